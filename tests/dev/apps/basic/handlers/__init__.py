"""Handlers of the local cloud's test app."""
