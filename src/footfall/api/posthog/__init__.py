"""PostHog's REST API (projects and environments), shaped from footfall's shared engine and metadata."""
