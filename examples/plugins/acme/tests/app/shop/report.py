"""The nightly report reads the uploads; the audit subscriber only logs events."""

from acme_omnicloud.client import Bucket

uploads = Bucket("uploads")


def nightly(event) -> None:
    uploads.list()


def audit(message) -> None:
    return None
