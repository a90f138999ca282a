"""Re-exports a client, as app helpers do."""

from runtime import Secret

__all__ = ["Secret"]
