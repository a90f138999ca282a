"""Bucket: object storage for app teams, the same type token (omnicloud:index:Bucket) on every cloud."""

from __future__ import annotations

from typing import TypedDict

import pulumi

from components import Resource


class BucketArgs(TypedDict, total=False):
    versioned: pulumi.Input[bool]
    """Keep every version of an object."""
    expire_days: pulumi.Input[int]
    """Delete objects this many days after they are written."""


class Bucket(Resource):
    """`Bucket(name, args, opts, provider=..., transform={"<node>": fn})`; nodes per cloud in
    acme_omnicloud/aws.py, azure.py and gcp.py."""

    KIND = "Bucket"
    kind = "bucket"
