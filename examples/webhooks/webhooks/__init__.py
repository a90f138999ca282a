"""Handlers of the webhook fan-out example."""
