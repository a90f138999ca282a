"""Secret: a named secret whose value is set per stack (`pulumi config set --secret`)."""

from __future__ import annotations

from typing import TypedDict

import pulumi

from .base import Resource


class SecretArgs(TypedDict, total=False):
    description: pulumi.Input[str]
    """What the secret is for (shown in the cloud console)."""


class Secret(Resource):
    """`Secret(name, args, opts, provider=..., transform={"<node>": fn})`; nodes per cloud in
    providers/<cloud>/secret.py."""

    KIND = "Secret"
    kind = "secret"
