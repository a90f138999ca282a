"""Provider-neutral Pulumi components: the same type token (omnicloud:index:<Kind>) on every cloud."""

from .app import App, AppArgs
from .function import Function, FunctionArgs
from .http_api import HttpApi, HttpApiArgs
from .queue import Queue, QueueArgs
from .schedule import Schedule, ScheduleArgs
from .secret import Secret, SecretArgs
from .table import Table, TableArgs
from .topic import Topic, TopicArgs

__all__ = [
    "App", "AppArgs", "Function", "FunctionArgs", "HttpApi", "HttpApiArgs", "Queue", "QueueArgs",
    "Schedule", "ScheduleArgs", "Secret", "SecretArgs", "Table", "TableArgs", "Topic", "TopicArgs",
]
