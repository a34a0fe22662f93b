"""footfall: self-hosted product analytics that speaks the Amplitude and PostHog APIs."""

__version__ = "0.1.0"
