"""Handlers of the scheduled report example."""
