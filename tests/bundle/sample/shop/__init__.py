"""A small shop app used by the packaging tests."""
