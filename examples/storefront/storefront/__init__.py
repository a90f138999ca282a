"""Handlers of the multi-prefix storefront example."""
