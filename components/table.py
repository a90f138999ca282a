"""Table: a key-value table with a partition key, optional sort key and TTL attribute."""

from __future__ import annotations

from typing import TypedDict

import pulumi

from .base import Resource


class TableArgs(TypedDict, total=False):
    partition_key: pulumi.Input[str]
    """Attribute that partitions the table (string)."""
    sort_key: pulumi.Input[str]
    """Attribute that orders items within a partition (string), if any."""
    ttl: pulumi.Input[str]
    """Attribute holding an expiry time in epoch seconds, if any."""


class Table(Resource):
    """`Table(name, args, opts, provider=..., transform={"<node>": fn})`; nodes per cloud in
    providers/<cloud>/table.py."""

    KIND = "Table"
    kind = "table"
