"""Renders the Azure Functions shim of one function: function_app.py (jinja2) and host.json.

Used by the bundler at package time; imports neither azure.functions nor (until called) jinja2.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from .base import TRIGGER_KINDS

TEMPLATES = Path(__file__).parent / "templates"
HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


@lru_cache(maxsize=1)
def _environment():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=False,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["py"] = repr  # a Python literal, whatever the string holds
    return env


def render_function_app(function_name: str, target: str, trigger: str, http_prefix: str | None = None) -> str:
    """function_app.py registering `trigger` for `function_name` and calling handler `target`.

    `http_prefix` is informational: the route is "{*path}" under an empty routePrefix, and the
    neutral router strips the prefix itself.
    """
    if trigger not in TRIGGER_KINDS:
        raise ValueError(f"function {function_name!r}: unknown trigger {trigger!r}; expected one of {', '.join(TRIGGER_KINDS)}")
    if not _TARGET.match(target):
        raise ValueError(f"function {function_name!r}: handler {target!r} is not 'module:attribute'")
    python_name = "omnicloud_" + re.sub(r"\W", "_", function_name)
    return _environment().get_template("azure_function_app.py.j2").render(
        function_name=function_name, target=target, trigger=trigger, python_name=python_name,
        http_methods=HTTP_METHODS, http_prefix=http_prefix,
    )


def host_json(trigger: str, timeout_seconds: int | None = None) -> dict[str, Any]:
    """host.json for the function app: extension bundle 4.x, empty HTTP route prefix."""
    extensions: dict[str, Any] = {"http": {"routePrefix": ""}}
    if TRIGGER_KINDS.get(trigger) == "message":
        # Complete on success, abandon on exception: Service Bus then redelivers and dead-letters.
        extensions["serviceBus"] = {"autoCompleteMessages": True}
    out: dict[str, Any] = {
        "version": "2.0",
        "extensionBundle": {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)"},
        "logging": {"logLevel": {"default": "Information"}},
        "extensions": extensions,
    }
    if timeout_seconds:
        hours, rest = divmod(int(timeout_seconds), 3600)
        out["functionTimeout"] = f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    return out


def render_host_json(trigger: str, timeout_seconds: int | None = None) -> str:
    return json.dumps(host_json(trigger, timeout_seconds), indent=2, sort_keys=True) + "\n"
