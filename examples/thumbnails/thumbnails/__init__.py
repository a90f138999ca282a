"""Handlers of the thumbnail pipeline example."""
