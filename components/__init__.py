"""Provider-neutral Pulumi components: the same type token (omnicloud:index:<Kind>) on every cloud.

Each takes its provider explicitly (`provider=`), Pulumi resource options (`opts`, `transforms`
included) and `transform={"<node>": fn}`, and exposes the resources it made as typed `nodes`.
"""

from .app import App, AppArgs
from .base import Component, Resource, Transform, TransformError
from .function import Function, FunctionArgs
from .http_api import HttpApi, HttpApiArgs
from .queue import Queue, QueueArgs
from .schedule import Schedule, ScheduleArgs
from .secret import Secret, SecretArgs
from .table import Table, TableArgs
from .topic import Topic, TopicArgs

__all__ = [
    "App",
    "AppArgs",
    "Component",
    "Function",
    "FunctionArgs",
    "HttpApi",
    "HttpApiArgs",
    "Queue",
    "QueueArgs",
    "Resource",
    "Schedule",
    "ScheduleArgs",
    "Secret",
    "SecretArgs",
    "Table",
    "TableArgs",
    "Topic",
    "TopicArgs",
    "Transform",
    "TransformError",
]
