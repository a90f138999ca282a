"""Table: a key-value table with a partition key, optional sort key and TTL attribute."""

from __future__ import annotations

from typing import TypedDict

import pulumi

from providers import base
from spec.model import TableSpec

from ._base import NeutralComponent


class TableArgs(TypedDict, total=False):
    partition_key: pulumi.Input[str]
    """Attribute that partitions the table (string)."""
    sort_key: pulumi.Input[str]
    """Attribute that orders items within a partition (string), if any."""
    ttl: pulumi.Input[str]
    """Attribute holding an expiry time in epoch seconds, if any."""


class Table(NeutralComponent):
    KIND = "Table"

    def __init__(self, name: str, args: TableArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        self._finish(base.active().table(self, name, TableSpec(**args)))
