"""Secret: a named secret whose value is set per stack (`pulumi config set --secret`)."""

from __future__ import annotations

from typing import TypedDict

import pulumi

from providers import base
from spec.model import SecretSpec

from ._base import NeutralComponent


class SecretArgs(TypedDict, total=False):
    description: pulumi.Input[str]
    """What the secret is for (shown in the cloud console)."""


class Secret(NeutralComponent):
    KIND = "Secret"

    def __init__(self, name: str, args: SecretArgs | None = None, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        self._finish(base.active().secret(self, name, SecretSpec(**(args or {}))))
