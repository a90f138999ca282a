"""Buckets on Google Cloud: Cloud Storage through google-cloud-storage with the function's service
account (STORAGE_EMULATOR_HOST, which the library honours, points it at an emulator)."""

from __future__ import annotations

import threading

from runtime.backends.base import access_denied, not_deployed
from runtime.links import Link

_client = None
_lock = threading.Lock()


def _storage():
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                from google.cloud import storage

                _client = storage.Client()
    return _client


class CloudStorageBucket:
    def __init__(self, link: Link):
        self.link = link
        self.name = link.require("bucket")
        self.bucket = _storage().bucket(self.name)

    def _translate(self, error: Exception, action: str) -> Exception:
        from google.api_core.exceptions import Forbidden, NotFound

        if isinstance(error, Forbidden):
            return access_denied("Google Cloud", self.link, action, self.name)
        if isinstance(error, NotFound):
            return not_deployed("Google Cloud", self.link, self.name)
        return error

    def put(self, key: str, data: bytes, content_type: str) -> None:
        from google.api_core.exceptions import GoogleAPICallError

        try:
            self.bucket.blob(key).upload_from_string(data, content_type=content_type)
        except GoogleAPICallError as error:
            raise self._translate(error, "storage.objects.create") from None

    def get(self, key: str) -> bytes | None:
        from google.api_core.exceptions import GoogleAPICallError

        try:
            blob = self.bucket.get_blob(key)
            return None if blob is None else blob.download_as_bytes()
        except GoogleAPICallError as error:
            raise self._translate(error, "storage.objects.get") from None

    def delete(self, key: str) -> None:
        from google.api_core.exceptions import GoogleAPICallError, NotFound

        try:
            self.bucket.blob(key).delete()
        except NotFound:
            if self.bucket.exists():
                return
            raise self._translate(NotFound(self.name), "storage.objects.delete") from None
        except GoogleAPICallError as error:
            raise self._translate(error, "storage.objects.delete") from None

    def list(self, prefix: str, limit: int) -> list[str]:
        from google.api_core.exceptions import GoogleAPICallError

        try:
            blobs = _storage().list_blobs(self.name, prefix=prefix or None, max_results=limit)
            return [blob.name for blob in blobs][:limit]
        except GoogleAPICallError as error:
            raise self._translate(error, "storage.objects.list") from None


bucket = CloudStorageBucket
