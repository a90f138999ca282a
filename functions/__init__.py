"""The agent platform: handlers written only against runtime/ (no cloud SDKs)."""
