"""Handler modules the broken app.yaml corpus points at (parsed by validation, never run)."""
