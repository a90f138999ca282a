"""The omnicloud runtime, bundled into every function: neutral types, router, clients.

Importing it imports no cloud SDK; backends load on first client use. Names load on first
access (PEP 562), so an entry point pays only for what it uses: a queue worker never loads
the router, an HTTP function never loads the client facades until it touches one.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on the cold path
if TYPE_CHECKING:
    from .backends.base import ConditionFailed, Page
    from .clients import Queue, Secret, Table, Topic
    from .links import LinkError
    from .router import HTTPError, Router
    from .types import BadRequest, Headers, Message, Request, Response, ScheduledEvent

# public name -> the submodule that defines it
_WHERE = {
    "ConditionFailed": "backends.base", "Page": "backends.base",
    "Queue": "clients", "Secret": "clients", "Table": "clients", "Topic": "clients",
    "LinkError": "links",
    "HTTPError": "router", "Router": "router",
    "BadRequest": "types", "Headers": "types", "Message": "types", "Request": "types", "Response": "types",
    "ScheduledEvent": "types",
}

__all__ = [
    "BadRequest", "ConditionFailed", "HTTPError", "Headers", "LinkError", "Message", "Page", "Queue",
    "Request", "Response", "Router", "ScheduledEvent", "Secret", "Table", "Topic",
]


def __getattr__(name: str) -> object:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'runtime' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{where}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
