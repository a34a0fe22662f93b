"""The web UI: server-rendered pages whose small scripts call the same PostHog REST API as any client."""
