"""app.yaml: the pydantic model, a loader with line-numbered errors, and per-cloud capabilities."""

from .loader import Problem, SpecError, load_app, load_app_with_warnings
from .model import AppSpec, FunctionSpec, QueueSpec, SecretSpec, StackSettings, TableSpec, TopicSpec
from .schedule import Schedule, ScheduleError, parse_schedule

__all__ = [
    "AppSpec", "FunctionSpec", "Problem", "QueueSpec", "Schedule", "ScheduleError", "SecretSpec",
    "SpecError", "StackSettings", "TableSpec", "TopicSpec", "load_app", "load_app_with_warnings",
    "parse_schedule",
]
