"""Bringing data in from other analytics products."""
