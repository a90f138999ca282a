"""Tests of the runtime: adapters, clients, cold start."""
