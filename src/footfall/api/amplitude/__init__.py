"""Amplitude's Dashboard REST and Export APIs."""
