"""The omnicloud runtime, bundled into every function: neutral types, router, clients.

Importing it imports no cloud SDK; backends load on first client use.
"""

from .backends.base import ConditionFailed, Page
from .clients import Queue, Secret, Table, Topic
from .links import LinkError
from .router import HTTPError, Router
from .types import BadRequest, Headers, Message, Request, Response, ScheduledEvent

__all__ = [
    "BadRequest", "ConditionFailed", "HTTPError", "Headers", "LinkError", "Message", "Page", "Queue",
    "Request", "Response", "Router", "ScheduledEvent", "Secret", "Table", "Topic",
]
