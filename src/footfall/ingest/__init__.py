"""Ingestion: parse each SDK flavour, log durably, resolve identity, flush to the engine."""
