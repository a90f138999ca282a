"""The echo app's handler: the sample handler every adapter test uses (cwd is the repository root)."""

from tests.runtime.handlers_sample import request_fields as echo

__all__ = ["echo"]
