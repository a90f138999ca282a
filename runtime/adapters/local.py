"""Local adapter: what `omnicloud dev` calls for each HTTP request, message and schedule firing.

Events are already neutral here; this runs the handler inside the invocation context (so the
traceparent flows on through the local clients) and logs the same JSON line as the clouds.
Passing `environ` resolves links and OMNICLOUD_* settings from that function's environment,
for a dev server that hosts several functions in one process.
"""

from __future__ import annotations

from collections.abc import Mapping

from .. import links
from .. import log as jsonlog
from ..types import Message, Request, Response, ScheduledEvent
from . import base


class _environment:  # noqa: N801  (a class: a generator context manager per invocation costs more)
    """The function's environment for one invocation; `with` gives its OMNICLOUD_FUNCTION."""

    __slots__ = ("_scope",)

    def __init__(self, environ: Mapping[str, str] | None):
        self._scope = None if environ is None else links.use_environ(environ)

    def __enter__(self) -> str | None:
        jsonlog.configure()
        if self._scope is None:
            return None
        self._scope.__enter__()
        return self._scope.environ.get("OMNICLOUD_FUNCTION")

    def __exit__(self, *exc_info: object) -> None:
        if self._scope is not None:
            self._scope.__exit__()


def invoke_http(target: str, request: Request, *, function: str | None = None,
                environ: Mapping[str, str] | None = None) -> Response:
    """Run an HTTP handler; errors come back as JSON error responses (500 for a handler bug)."""
    with _environment(environ) as env_function:
        return base.run_http(target, request, function=function or env_function)


def invoke_message(target: str, message: Message, *, trigger: str = "queue", function: str | None = None,
                   environ: Mapping[str, str] | None = None) -> None:
    """Run a queue/topic handler; raises what the handler raised (the dev server retries)."""
    with _environment(environ) as env_function:
        base.run_message(target, message, trigger=trigger, function=function or env_function)


def invoke_schedule(target: str, event: ScheduledEvent, *, function: str | None = None,
                    environ: Mapping[str, str] | None = None) -> None:
    """Run a schedule handler; raises what the handler raised."""
    with _environment(environ) as env_function:
        base.run_schedule(target, event, function=function or env_function)
