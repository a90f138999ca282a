"""Where the invocation line goes (runtime/log.py): straight to the stream when only omnicloud (or, on
Lambda, the runtime) decides where records go, through `logging` as soon as anything else does."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import textwrap

import pytest

from runtime import log as jsonlog
from runtime.adapters import aws, base
from tests.conftest import ROOT
from tests.events import load

from .adapter_support import LambdaContext, target

CTX = LambdaContext()


class Collect(logging.Handler):
    """A handler someone other than omnicloud attached (a log shipper, a test): keeps its records."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def fresh_logging(monkeypatch):
    """Logging as a new process has it: omnicloud has configured nothing yet."""
    for name, value in (("_configured", False), ("_own_handler", None), ("_platform", None)):
        monkeypatch.setattr(jsonlog, name, value)
    monkeypatch.setattr(base, "_logging_ready", False)
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    monkeypatch.setenv("LOG_LEVEL", "INFO")
    root = logging.getLogger()
    monkeypatch.setattr(root, "level", root.level)
    for name in ("omnicloud", "omnicloud.invocation"):
        logger = logging.getLogger(name)
        for attr in ("handlers", "filters"):
            monkeypatch.setattr(logger, attr, [])
        monkeypatch.setattr(logger, "level", logging.NOTSET)
    return root


def _root_handlers(monkeypatch, root: logging.Logger, handlers: list[logging.Handler]) -> None:
    # In the test body: pytest attaches its own capture handlers to the root for the call itself.
    monkeypatch.setattr(root, "handlers", handlers)


def _omnicloud_stream(monkeypatch, root: logging.Logger) -> io.StringIO:
    """omnicloud's own JSON handler as the only one, writing to a string."""
    _root_handlers(monkeypatch, root, [])
    stream = io.StringIO()
    jsonlog.configure("INFO", stream=stream)
    base.configure_logging()
    return stream


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _get(path: str) -> dict:
    event = load("aws", "apigw_v2_get")
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    return event


def _invoke_http() -> dict:
    return aws.make_handler(target("app"), "http")(_get("/items/7"), CTX)


def test_the_line_is_the_same_straight_or_through_logging(fresh_logging, monkeypatch):
    stream = _omnicloud_stream(monkeypatch, fresh_logging)
    _invoke_http()
    # A filter on the omnicloud logger takes the line through logging (and lets it pass).
    logging.getLogger("omnicloud").addFilter(lambda record: True)
    _invoke_http()
    straight, through = _lines(stream.getvalue())
    for line in (straight, through):
        del line["ts"], line["duration_ms"], line["correlation_id"]
    assert straight == through
    assert (
        straight["message"] == "invocation ok" and straight["invocation_id"] == CTX.aws_request_id
    )


def test_a_handler_someone_adds_sees_every_invocation_line(fresh_logging, monkeypatch):
    stream = _omnicloud_stream(monkeypatch, fresh_logging)
    shipper = Collect()
    fresh_logging.addHandler(shipper)

    _invoke_http()

    (record,) = [r for r in shipper.records if r.name == "omnicloud.invocation"]
    assert record.getMessage() == "invocation ok" and record.fields["status"] == 200
    (line,) = _lines(stream.getvalue())  # and omnicloud's own handler still writes it, once
    assert line["message"] == "invocation ok"


def test_a_filter_or_a_level_that_drops_the_line_is_honoured(fresh_logging, monkeypatch):
    stream = _omnicloud_stream(monkeypatch, fresh_logging)
    logging.getLogger("omnicloud.invocation").addFilter(lambda record: False)
    _invoke_http()
    assert stream.getvalue() == ""
    logging.getLogger("omnicloud.invocation").filters.clear()
    fresh_logging.setLevel(logging.WARNING)
    _invoke_http()
    assert stream.getvalue() == ""


def test_on_lambda_the_line_goes_to_stdout_beside_the_runtimes_handler(
    fresh_logging, monkeypatch, capsys
):
    runtime_handler = (
        Collect()
    )  # stands for the Lambda runtime's root handler (awslambdaric bootstrap)
    _root_handlers(monkeypatch, fresh_logging, [runtime_handler])
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "api")

    _invoke_http()

    (line,) = _lines(capsys.readouterr().out)
    assert line["message"] == "invocation ok" and line["logger"] == "omnicloud.invocation"
    assert not [r for r in runtime_handler.records if r.name == "omnicloud.invocation"]
    # The app's own records still go to the runtime's handler, as JSON.
    logging.getLogger("app").info("hello")
    assert [r.getMessage() for r in runtime_handler.records] == ["hello"]
    assert isinstance(runtime_handler.formatter, jsonlog.JsonFormatter)
    # A handler added since is someone else's: from then on the line goes through logging, to both.
    shipper = Collect()
    fresh_logging.addHandler(shipper)
    _invoke_http()
    assert capsys.readouterr().out == ""
    assert [r.getMessage() for r in shipper.records] == ["invocation ok"]
    assert [r.getMessage() for r in runtime_handler.records] == ["hello", "invocation ok"]


def test_elsewhere_a_platform_handler_gets_the_line_through_logging(
    fresh_logging, monkeypatch, capsys
):
    worker_handler = (
        Collect()
    )  # stands for the Azure worker's, which sends records to the Functions host
    _root_handlers(monkeypatch, fresh_logging, [worker_handler])

    _invoke_http()

    assert capsys.readouterr().out == ""
    assert [r.getMessage() for r in worker_handler.records] == ["invocation ok"]


# ---- in a fresh interpreter: the cold start imports no logging ------------------------------------

PROBE = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {root!r})
    from runtime.adapters.aws import make_handler
    from tests.events import load
    event = load("aws", "apigw_v2_get")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/items/hello"
    make_handler({target!r}, "http")(event, None)
    make_handler("tests.runtime.handlers_sample:on_message", "queue")(load("aws", "sqs"), None)
    print(json.dumps({{"logging": "logging" in sys.modules}}))
""")


def _fresh(target_name: str, env: dict[str, str] | None = None) -> tuple[dict, list[dict]]:
    result = subprocess.run(
        [sys.executable, "-I", "-c", PROBE.format(root=str(ROOT), target=target_name)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(ROOT),
        env=env or {},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1]), _lines(result.stderr)


def test_a_cold_start_that_logs_nothing_else_imports_no_logging_and_still_writes_its_lines():
    report, lines = _fresh("tests.runtime.handlers_sample:app")
    assert report == {"logging": False}
    assert [line["message"] for line in lines] == ["invocation ok", "batch ok"]
    assert lines[0]["status"] == 200 and lines[1]["records"] == 2


def test_a_handler_module_that_logs_gets_json_lines_from_its_first_invocation(tmp_path):
    # The module imports logging when the first invocation loads it, and logs in that invocation.
    (tmp_path / "logs_at_once.py").write_text(
        textwrap.dedent("""
        import logging
        from runtime import Router
        log = logging.getLogger("logs_at_once")
        app = Router(prefix="/")

        @app.get("/items/{name}")
        def hello(request, name):
            log.info("saying hello to %s", name)
            return {"hello": name}
    """)
    )
    probe = PROBE.replace(
        "sys.path.insert(0, {root!r})", "sys.path[:0] = [{root!r}, " + repr(str(tmp_path)) + "]"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", probe.format(root=str(ROOT), target="logs_at_once:app")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(ROOT),
        env={"LOG_LEVEL": "info"},
    )
    assert result.returncode == 0, result.stderr
    lines = _lines(result.stderr)
    assert [line["message"] for line in lines][:2] == ["saying hello to hello", "invocation ok"]
    assert (
        lines[0]["logger"] == "logs_at_once"
        and lines[0]["invocation_id"] == lines[1]["invocation_id"]
    )


def test_log_level_warning_silences_the_lines_of_a_cold_start():
    report, lines = _fresh("tests.runtime.handlers_sample:app", {"LOG_LEVEL": "warning"})
    assert report == {"logging": False} and lines == []
