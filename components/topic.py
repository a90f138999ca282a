"""Topic: publish once, fan out to every subscriber whose filter matches."""

from __future__ import annotations

from typing import TypedDict

import pulumi

from providers import base
from spec.model import TopicSpec

from ._base import NeutralComponent


class TopicArgs(TypedDict, total=False):
    """Topics take no settings today; subscribers declare their filters."""


class Topic(NeutralComponent):
    KIND = "Topic"

    def __init__(self, name: str, args: TopicArgs | None = None, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        self._finish(base.active().topic(self, name, TopicSpec(**(args or {}))))
