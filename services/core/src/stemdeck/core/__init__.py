"""Stemdeck core: what the API and the worker share (no torch here)."""
