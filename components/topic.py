"""Topic: publish once, fan out to every subscriber whose filter matches."""

from __future__ import annotations

from typing import TypedDict

from .base import Resource


class TopicArgs(TypedDict, total=False):
    """Topics take no settings today; subscribers declare their filters."""


class Topic(Resource):
    """`Topic(name, args, opts, provider=..., transform={"<node>": fn})`; nodes per cloud in
    providers/<cloud>/topic.py."""

    KIND = "Topic"
    kind = "topic"
