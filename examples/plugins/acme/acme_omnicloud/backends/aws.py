"""Buckets on AWS: S3 through boto3 (the Lambda runtime's), one client per process."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from runtime.backends.aws import client, translate
from runtime.links import Link

# S3's "no such object" answers to GetObject (NoSuchKey) and to a GET of a missing key without
# ListBucket (NoSuchKey or 404).
_MISSING_OBJECT = {"NoSuchKey", "404"}


class S3Bucket:
    def __init__(self, link: Link):
        self.link = link
        self.bucket = link.require("bucket")
        self.client = client("s3")

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        from botocore.exceptions import ClientError

        try:
            yield
        except ClientError as error:
            raise translate(error, self.link, action, self.bucket) from None

    def put(self, key: str, data: bytes, content_type: str) -> None:
        with self._errors("s3:PutObject"):
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            with self._errors("s3:GetObject"):
                return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _MISSING_OBJECT:
                return None
            raise

    def delete(self, key: str) -> None:
        with self._errors("s3:DeleteObject"):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def list(self, prefix: str, limit: int) -> list[str]:
        with self._errors("s3:ListBucket"):
            page = self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=limit)
        return [item["Key"] for item in page.get("Contents", [])]


bucket = S3Bucket
