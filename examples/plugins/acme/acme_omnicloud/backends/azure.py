"""Buckets on Azure: a blob container through azure-storage-blob, signed with the function's
identity (DefaultAzureCredential); AZURE_STORAGE_CONNECTION_STRING, when set, replaces the
account URL and the identity (Azurite, local use)."""

from __future__ import annotations

import os

from runtime.backends.azure import credential
from runtime.backends.base import access_denied, not_deployed
from runtime.links import Link, current_environ

CONNECTION_STRING_ENV = "AZURE_STORAGE_CONNECTION_STRING"
_containers: dict[tuple[str, str], object] = {}


class BlobBucket:
    def __init__(self, link: Link):
        self.link = link
        self.name = link.require("container")
        connection = current_environ().get(CONNECTION_STRING_ENV) or os.environ.get(
            CONNECTION_STRING_ENV
        )
        key = (connection or link.require("account_url"), self.name)
        if key not in _containers:
            from azure.storage.blob import ContainerClient

            _containers[key] = (
                ContainerClient.from_connection_string(connection, self.name)
                if connection
                else ContainerClient(
                    link.require("account_url"), self.name, credential=credential()
                )
            )
        self.container = _containers[key]

    def _translate(self, error: Exception, action: str) -> Exception:
        from azure.core.exceptions import HttpResponseError

        status = (
            getattr(error, "status_code", None) if isinstance(error, HttpResponseError) else None
        )
        if status == 403:
            return access_denied("Azure", self.link, action, self.name)
        if getattr(error, "error_code", None) == "ContainerNotFound":
            return not_deployed("Azure", self.link, self.name)
        return error

    def put(self, key: str, data: bytes, content_type: str) -> None:
        from azure.core.exceptions import HttpResponseError
        from azure.storage.blob import ContentSettings

        try:
            self.container.upload_blob(
                key,
                data,
                overwrite=True,
                content_settings=ContentSettings(content_type=content_type),
            )
        except HttpResponseError as error:
            raise self._translate(error, "write") from None

    def get(self, key: str) -> bytes | None:
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        try:
            return self.container.download_blob(key).readall()
        except ResourceNotFoundError as error:
            if getattr(error, "error_code", None) == "ContainerNotFound":
                raise self._translate(error, "read") from None
            return None
        except HttpResponseError as error:
            raise self._translate(error, "read") from None

    def delete(self, key: str) -> None:
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        try:
            self.container.delete_blob(key)
        except ResourceNotFoundError as error:
            if getattr(error, "error_code", None) == "ContainerNotFound":
                raise self._translate(error, "write") from None
        except HttpResponseError as error:
            raise self._translate(error, "write") from None

    def list(self, prefix: str, limit: int) -> list[str]:
        from azure.core.exceptions import HttpResponseError

        keys: list[str] = []
        try:
            for blob in self.container.list_blobs(name_starts_with=prefix or None):
                keys.append(blob.name)
                if len(keys) >= limit:
                    break
        except HttpResponseError as error:
            raise self._translate(error, "read") from None
        return keys


bucket = BlobBucket
