"""Stemdeck HTTP API."""
