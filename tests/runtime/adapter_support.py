"""Shared helpers for the adapter tests: handler targets, the JSON invocation log, cloud shims."""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from runtime import log as jsonlog
from runtime.adapters import base
from runtime.adapters.base import log as invocation_logger

from . import handlers_sample

SAMPLE = "tests.runtime.handlers_sample"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def target(attr: str) -> str:
    return f"{SAMPLE}:{attr}"


@pytest.fixture
def seen() -> Iterator[list[dict[str, Any]]]:
    """What the sample handlers recorded during the test."""
    handlers_sample.SEEN.clear()
    yield handlers_sample.SEEN
    handlers_sample.SEEN.clear()


@pytest.fixture(autouse=True)
def quiet_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """Adapters configure logging on first use; keep that off the test process's handlers."""
    monkeypatch.setattr(jsonlog, "_configured", True)
    monkeypatch.setattr(base, "_logging_ready", True)


@pytest.fixture
def invocation_log(quiet_logging: None) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The invocation log lines, formatted by the runtime's JSON formatter and parsed back."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(jsonlog.JsonFormatter())
    invocation_logger.addHandler(handler)
    previous = invocation_logger.level
    invocation_logger.setLevel(logging.INFO)

    def lines() -> list[dict[str, Any]]:
        raw = [line for line in stream.getvalue().splitlines() if line.strip()]
        return [json.loads(line) for line in raw]  # every line is one JSON document

    yield lines
    invocation_logger.removeHandler(handler)
    invocation_logger.setLevel(previous)


class AzureContext:
    """What the Functions host passes as `context` (the attributes the adapter reads)."""

    def __init__(self, invocation_id: str = "0b4f2e6c-azure-invocation", trace_parent: str = ""):
        self.invocation_id = invocation_id
        self.function_name = "sample"
        self.trace_context = type("TraceContext", (), {"trace_parent": trace_parent, "trace_state": "",
                                                       "attributes": {}})()


class LambdaContext:
    """The attributes of the Lambda context object the adapter reads."""

    def __init__(self, aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"):
        self.aws_request_id = aws_request_id
        self.function_name = "sample"


def import_function_app(tmp_path: Path, source: str, name: str = "function_app") -> ModuleType:
    """Import a rendered function_app.py the way the Python worker does (as a file)."""
    path = tmp_path / "function_app.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"{name}_{abs(hash(str(tmp_path)))}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def gcp_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, handler: str, trigger: str, *, use_cookies: bool = True):
    """functions-framework's test client for the main.py the bundler writes (use_cookies=False: send a
    Cookie header as given, instead of the client's own cookie jar)."""
    from functions_framework import create_app

    main = tmp_path / "main.py"
    main.write_text(f'from runtime.adapters.gcp import make_entry\nhandle = make_entry({handler!r}, {trigger!r})\n')
    # create_app registers "main" in sys.modules, appends to sys.path and sets an env var.
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "main", raising=False)
    monkeypatch.setenv("FUNCTION_SIGNATURE_TYPE", "http")
    return create_app("handle", str(main), "http").test_client(use_cookies=use_cookies)
