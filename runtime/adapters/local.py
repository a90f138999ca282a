"""Local adapter: what `omnicloud dev` calls for each HTTP request, message and schedule firing.

The gateway's HTTP requests become the neutral Request through `to_request` (the same builder
as the clouds'); messages and schedule firings are neutral already. Each runs the handler inside
the invocation context (so the traceparent flows on through the local clients) and logs the same
JSON line as the clouds.
Passing `environ` resolves links and OMNICLOUD_* settings from that function's environment,
for a dev server that hosts several functions in one process.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from .. import links
from .. import log as jsonlog
from ..types import Message, Request, Response, ScheduledEvent
from . import base


def to_request(method: str, path: str, headers: list[tuple[str, str]], *, query_string: str = "",
               body: bytes = b"", source_ip: str | None = None, request_id: str | None = None) -> Request:
    """A request as `omnicloud dev`'s gateway received it (path decoded, the raw query string), as the
    neutral Request: built by base.http_request, like every cloud's (same rules for repeated query
    keys and cookies)."""
    return base.http_request(method, path, headers, query=query_string, body=body, source_ip=source_ip,
                             request_id=request_id)


def _configure_logging() -> None:
    """JSON lines on stderr (runtime/log.py), set up once something has imported logging."""
    if "logging" in sys.modules:
        jsonlog.configure()
        jsonlog.defer(None)
    else:
        jsonlog.defer(_configure_logging)


def invoke_http(target: str, request: Request, *, function: str | None = None,
                environ: Mapping[str, str] | None = None) -> Response:
    """Run an HTTP handler; errors come back as JSON error responses (500 for a handler bug)."""
    _configure_logging()
    if environ is None:
        return base.run_http(target, request, function=function)
    with links.use_environ(environ):
        return base.run_http(target, request, function=function or environ.get("OMNICLOUD_FUNCTION"))


def invoke_message(target: str, message: Message, *, trigger: str = "queue", function: str | None = None,
                   environ: Mapping[str, str] | None = None) -> None:
    """Run a queue/topic handler; raises what the handler raised (the dev server retries)."""
    _configure_logging()
    if environ is None:
        base.run_message(target, message, trigger=trigger, function=function)
        return
    with links.use_environ(environ):
        base.run_message(target, message, trigger=trigger, function=function or environ.get("OMNICLOUD_FUNCTION"))


def invoke_schedule(target: str, event: ScheduledEvent, *, function: str | None = None,
                    environ: Mapping[str, str] | None = None) -> None:
    """Run a schedule handler; raises what the handler raised."""
    _configure_logging()
    if environ is None:
        base.run_schedule(target, event, function=function)
        return
    with links.use_environ(environ):
        base.run_schedule(target, event, function=function or environ.get("OMNICLOUD_FUNCTION"))
