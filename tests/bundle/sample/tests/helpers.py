"""Test helper of the sample app: never packaged."""
