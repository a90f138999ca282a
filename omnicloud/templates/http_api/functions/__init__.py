"""The app's handlers (see app.yaml)."""
