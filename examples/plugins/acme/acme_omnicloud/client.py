"""Bucket: the runtime client app handlers use (`from acme_omnicloud.client import Bucket`).

Runs inside functions, next to omnicloud's runtime: importing it imports no cloud SDK and scans no
entry points. Its backend is the module `backends` names for OMNICLOUD_CLOUD, imported on first use.
`read` allows get and list, `write` put and delete (app.yaml: `links: {uploads: [read, write]}`).
"""

from __future__ import annotations

from runtime.clients import Client

# S3, Cloud Storage and Blob Storage all take object names of up to 1,024 bytes of UTF-8
# (docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html, cloud.google.com/storage/docs/
# objects#naming, learn.microsoft.com/rest/api/storageservices/naming-and-referencing-containers--blobs--and-metadata).
KEY_BYTES_MAX = 1024
LIST_MAX = 1000


def check_key(key: str) -> str:
    """`key` if every cloud can store it: 1 to 1,024 bytes, no control characters, no `.`/`..` part."""
    if not isinstance(key, str) or not key:
        raise ValueError("an object key is a non-empty string, e.g. 'reports/2026-01.csv'")
    if len(key.encode("utf-8")) > KEY_BYTES_MAX:
        raise ValueError(
            f"object key is {len(key.encode('utf-8'))} bytes, over {KEY_BYTES_MAX}; shorten it"
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise ValueError("object keys may not hold control characters")
    if any(part in (".", "..") for part in key.split("/")):
        raise ValueError(f"object key {key!r} has a '.' or '..' part; write the path without it")
    return key


class Bucket(Client):
    """A bucket from app.yaml (`buckets:`), by its logical name."""

    kind = "bucket"
    backends = {
        cloud: f"acme_omnicloud.backends.{cloud}" for cloud in ("aws", "azure", "gcp", "local")
    }

    def put(
        self, key: str, data: bytes | str, *, content_type: str = "application/octet-stream"
    ) -> None:
        """Store `data` under `key`, replacing what was there. Needs `write`."""
        backend = self._backend("write")
        body = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        backend.put(check_key(key), body, content_type)

    def get(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is none. Needs `read`."""
        return self._backend("read").get(check_key(key))

    def delete(self, key: str) -> None:
        """Remove the object (no error when there is none). Needs `write`."""
        self._backend("write").delete(check_key(key))

    def list(self, prefix: str = "", *, limit: int = LIST_MAX) -> list[str]:
        """Keys starting with `prefix`, in order, at most `limit`. Needs `read`."""
        if not 1 <= limit <= LIST_MAX:
            raise ValueError(f"limit must be 1..{LIST_MAX}")
        return self._backend("read").list(prefix, limit)
