"""Warm overhead: µs per event once the instance is warm, ours against Powertools and hand-written code.

Same payloads everywhere (the real events in tests/events), same trivial handler work (parse a
JSON body, answer JSON; check a message body). timeit-style: each case is calibrated to a
minimum duration per repeat, warmed up, then measured in several repeats interleaved across
cases; the figure is the median repeat. Our adapters log one JSON line per invocation, or per SQS
batch plus one per failed record (the default, INFO); the `quiet` rows run at LOG_LEVEL=WARNING to
show what that line costs.

Each cloud's cases run under the logging set-up its host gives them (runtime/log.py says where the
line goes in each): on Lambda, the runtime's handler on the root logger (a stand-in here, writing
to /dev/null) and AWS_LAMBDA_FUNCTION_NAME, so the line goes to stdout (here /dev/null); on Azure,
the worker's handler (a stand-in formatting each record to /dev/null), so the line goes through
`logging`; on Google Cloud and locally, omnicloud's own JSON handler (on /dev/null).

Targets (issue 14): HTTP on AWS <= 0.5x Powertools, HTTP on Azure and GCP within 1.5x of ours on
AWS; an SQS record <= 2x Powertools' BatchProcessor per record.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import emit, log, median  # noqa: E402
from tests.events import load  # noqa: E402

BENCH = "warm_overhead"
HTTP_TARGET = "bench.handlers:app"
QUEUE_TARGET = "bench.handlers:consume"
HTTP_VS_POWERTOOLS = 0.5
HTTP_VS_AWS = 1.5
SQS_VS_POWERTOOLS = 2.0


@dataclass
class Case:
    name: str  # "<event>.<candidate>", e.g. "sqs_100.powertools"
    event: str
    candidate: str
    kind: str  # "ours" | "peer" | "floor"
    call: Callable[[], object]
    records: int = 1
    quiet: bool = False  # run with the root logger at WARNING
    samples: list[float] | None = None
    host: str = "aws"  # whose logging set-up the case runs under (Hosts)


class StandIn(logging.Handler):
    """A host's own root handler (the Lambda runtime's, the Azure worker's): formats each record and
    writes it to /dev/null."""

    def __init__(self, sink) -> None:
        super().__init__()
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.write(self.format(record))


class Hosts:
    """The root logger's handlers as each cloud's host leaves them, switched per case."""

    def __init__(self) -> None:
        from runtime import log as jsonlog
        from runtime.adapters import base

        self.devnull = open(os.devnull, "w")  # noqa: SIM115
        root = logging.getLogger()
        lambda_runtime, azure_worker = StandIn(self.devnull), StandIn(self.devnull)
        # As on Lambda: the runtime's handler is there before omnicloud configures logging.
        os.environ["AWS_LAMBDA_FUNCTION_NAME"] = "bench"
        root.handlers = [lambda_runtime]
        base.configure_logging()
        del os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        root.handlers = []
        jsonlog.configure("INFO", stream=self.devnull)  # omnicloud's own handler, as on Google Cloud
        (own,) = root.handlers
        azure_worker.setFormatter(jsonlog.JsonFormatter())
        self.handlers = {"aws": [lambda_runtime], "azure": [azure_worker], "gcp": [own], "local": [own]}
        self.stdout = sys.stdout

    def use(self, host: str) -> None:
        logging.getLogger().handlers = self.handlers.get(host, self.handlers["aws"])
        sys.stdout = self.devnull if host == "aws" else self.stdout  # Lambda: the line goes to stdout

    def restore(self) -> None:
        sys.stdout = self.stdout


class LambdaContext:
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    function_name = "bench"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"


class AzureContext:
    invocation_id = "0b4f2e6c-azure-invocation"
    function_name = "bench"
    trace_context = None


def sqs_batch(size: int) -> dict:
    template = load("aws", "sqs")["Records"][0]
    records = []
    for i in range(size):
        record = copy.deepcopy(template)
        record["messageId"] = f"059f36b4-87a3-44ab-83d2-{i:012d}"
        records.append(record)
    return {"Records": records}


def _import_file(path: Path, name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def build_cases(workdir: Path, batch_sizes: list[int], hosts: Hosts) -> list[Case]:
    import azure.functions as func
    import flask
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )
    from azure.functions import meta
    from azure.functions.servicebus import ServiceBusMessageInConverter
    from fastapi import FastAPI
    from fastapi import Request as FastAPIRequest
    from mangum import Mangum
    from werkzeug.test import EnvironBuilder

    from runtime.adapters import aws, gcp, local
    from runtime.adapters.azure_templates import render_function_app
    from runtime.types import Message, Request

    ctx, actx = LambdaContext(), AzureContext()
    http_event = load("aws", "apigw_v2_http_api")
    body = http_event["body"]
    cases: list[Case] = []

    def add(event: str, candidate: str, kind: str, call: Callable[[], object], records: int = 1,
            check: Callable[[object], bool] = lambda r: True, quiet_too: bool = False) -> None:
        host = candidate if candidate in ("aws", "azure", "gcp", "local") else "aws"
        hosts.use(host)
        result = call()
        hosts.restore()
        if not check(result):
            raise SystemExit(f"warm overhead: {event}.{candidate} answered {result!r}")
        cases.append(Case(f"{event}.{candidate}", event, candidate, kind, call, records, host=host))
        if quiet_too:
            cases.append(Case(f"{event}.{candidate}.quiet", event, candidate + ".quiet", kind, call, records, True,
                              host=host))

    # ---- HTTP ----
    aws_http = aws.make_handler(HTTP_TARGET, "http")
    add("http", "aws", "ours", lambda: aws_http(http_event, ctx), check=lambda r: r["statusCode"] == 200,
        quiet_too=True)

    (workdir / "omnicloud_http_app.py").write_text(render_function_app("api", HTTP_TARGET, "http", "/"))
    (workdir / "omnicloud_queue_app.py").write_text(render_function_app("worker", QUEUE_TARGET, "queue"))
    (az_http_fn,) = _import_file(workdir / "omnicloud_http_app.py", "omnicloud_http_app").app.get_functions()
    (az_queue_fn,) = _import_file(workdir / "omnicloud_queue_app.py", "omnicloud_queue_app").app.get_functions()
    az_http, az_queue = az_http_fn.get_user_function(), az_queue_fn.get_user_function()
    fixture = load("azure", "http_request")
    az_request = func.HttpRequest(method=fixture["method"], url=fixture["url"], headers=fixture["headers"],
                                  params=fixture["params"], route_params=fixture["route_params"],
                                  body=fixture["body"].encode())
    add("http", "azure", "ours", lambda: az_http(az_request, actx), check=lambda r: r.status_code == 200,
        quiet_too=True)

    gcp_http = gcp.make_entry(HTTP_TARGET, "http")
    flask_request = EnvironBuilder(path="/my/path", method="POST", headers={"content-type": "application/json"},
                                   data=body).get_request(flask.Request)
    add("http", "gcp", "ours", lambda: gcp_http(flask_request), check=lambda r: r[1] == 200, quiet_too=True)

    body_bytes = body.encode()
    add("http", "local", "ours",
        lambda: local.invoke_http(HTTP_TARGET, Request(method="POST", path="/my/path",
                                                       headers={"content-type": "application/json"},
                                                       body=body_bytes)),
        check=lambda r: r.status == 200, quiet_too=True)

    pt_app = APIGatewayHttpResolver()

    @pt_app.post("/my/path")
    def pt_post():
        return {"ok": True, "message": pt_app.current_event.json_body["message"]}

    add("http", "powertools", "peer", lambda: pt_app.resolve(http_event, ctx), check=lambda r: r["statusCode"] == 200)

    fa_app = FastAPI()

    async def fa_post(request):
        data = await request.json()
        return {"ok": True, "message": data["message"]}

    # Postponed annotations would hide the class from FastAPI's resolver: give it the class itself.
    fa_post.__annotations__ = {"request": FastAPIRequest}
    fa_app.post("/my/path")(fa_post)

    mangum = Mangum(fa_app, lifespan="off")
    add("http", "mangum_fastapi", "peer", lambda: mangum(http_event, ctx), check=lambda r: r["statusCode"] == 200)

    def floor_http():
        data = json.loads(http_event["body"])
        return {"statusCode": 200, "headers": {"content-type": "application/json"},
                "body": json.dumps({"ok": True, "message": data["message"]})}

    add("http", "hand_written", "floor", floor_http)

    # ---- SQS batches ----
    aws_queue = aws.make_handler(QUEUE_TARGET, "queue")
    processor = BatchProcessor(event_type=EventType.SQS)

    def record_handler(record):
        if not record.body:
            raise ValueError("empty message")

    def floor_sqs(event):
        failures = []
        for record in event["Records"]:
            if not record["body"]:
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    ok = {"batchItemFailures": []}
    for size in batch_sizes:
        event = sqs_batch(size)
        add(f"sqs_{size}", "aws", "ours", lambda e=event: aws_queue(e, ctx), size, lambda r: r == ok, quiet_too=True)
        add(f"sqs_{size}", "powertools", "peer",
            lambda e=event: process_partial_response(event=e, record_handler=record_handler, processor=processor,
                                                     context=ctx), size, lambda r: r == ok)
        add(f"sqs_{size}", "hand_written", "floor", lambda e=event: floor_sqs(e), size, lambda r: r == ok)

    # ---- Pub/Sub push ----
    push = load("gcp", "pubsub_push")
    push_request = EnvironBuilder(path="/", method="POST", headers=push["headers"],
                                  data=json.dumps(push["body"])).get_request(flask.Request)
    gcp_push = gcp.make_entry(QUEUE_TARGET, "queue")
    add("pubsub", "gcp", "ours", lambda: gcp_push(push_request), check=lambda r: r[1] == 204, quiet_too=True)

    def floor_push():
        envelope = json.loads(push_request.get_data())
        if not base64.b64decode(envelope["message"]["data"]):
            return "empty", 500
        return "", 204

    add("pubsub", "hand_written", "floor", floor_push)

    # ---- Service Bus ----
    sb = load("azure", "servicebus_message")
    sb_message = ServiceBusMessageInConverter.decode(
        meta.Datum(sb["data"]["value"], sb["data"]["type"]),
        trigger_metadata={k: meta.Datum(v["value"], v["type"]) for k, v in sb["trigger_metadata"].items()})
    add("servicebus", "azure", "ours", lambda: az_queue(sb_message, actx), quiet_too=True)

    def floor_servicebus():
        if not sb_message.get_body():
            raise ValueError("empty message")

    add("servicebus", "hand_written", "floor", floor_servicebus)

    # ---- local message ----
    add("message", "local", "ours",
        lambda: local.invoke_message(QUEUE_TARGET, Message(id="059f36b4-87a3-44ab-83d2-661975830a7d",
                                                           body=b"Test message.")), quiet_too=True)
    return cases


def _calibrate(call: Callable[[], object], min_seconds: float) -> int:
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            call()
        if time.perf_counter() - start >= min_seconds:
            return number
        number *= 2


def measure(cases: list[Case], repeats: int, min_seconds: float, hosts: Hosts) -> None:
    root = logging.getLogger()
    numbers = {}
    for case in cases:
        root.setLevel(logging.WARNING if case.quiet else logging.INFO)
        hosts.use(case.host)
        numbers[case.name] = _calibrate(case.call, min_seconds)  # doubles as the warm-up
        hosts.restore()
        case.samples = []
    for _ in range(repeats):
        for case in cases:
            root.setLevel(logging.WARNING if case.quiet else logging.INFO)
            hosts.use(case.host)
            number = numbers[case.name]
            start = time.perf_counter()
            for _ in range(number):
                case.call()
            case.samples.append((time.perf_counter() - start) / number / case.records * 1e6)
            hosts.restore()
    root.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--min-seconds", type=float, default=0.1, help="minimum duration of one repeat")
    parser.add_argument("--batch-sizes", default="10,100")
    parser.add_argument("--quick", action="store_true", help="3 repeats of at least 30 ms")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.min_seconds = 3, 0.03
    os.environ["LOG_LEVEL"] = "INFO"
    os.environ["OMNICLOUD_FUNCTION"] = "bench"  # as every cloud's provider sets it
    # The JSON lines are formatted as in production; only the write goes nowhere.
    hosts = Hosts()
    with tempfile.TemporaryDirectory(prefix="omnicloud-warm-") as tmp:
        cases = build_cases(Path(tmp), [int(s) for s in args.batch_sizes.split(",")], hosts)
        log(f"warm overhead: {len(cases)} cases, {args.repeats} repeats of >= {args.min_seconds * 1000:.0f} ms")
        measure(cases, args.repeats, args.min_seconds, hosts)
        parts = breakdown(hosts, args.repeats, args.min_seconds)
    by_event: dict[str, dict[str, float]] = {}
    for case in cases:
        by_event.setdefault(case.event, {})[case.candidate] = median(case.samples or [])
    for case in cases:
        value = median(case.samples or [])
        peers = by_event[case.event]
        extra = {}
        if "powertools" in peers:
            extra["vs_powertools"] = round(value / peers["powertools"], 2)
        if "hand_written" in peers:
            extra["above_hand_written_us"] = round(value - peers["hand_written"], 2)
        if case.kind == "ours" and not case.quiet:
            extra.update(_target(case, value, peers, by_event))
        emit(BENCH, f"{case.event}.{case.candidate}", value, "µs", kind=case.kind, event=case.event,
             records_per_call=case.records, log_level="WARNING" if case.quiet else "INFO", host=case.host,
             min_us=round(min(case.samples or [0]), 3), repeats=len(case.samples or []),
             loadavg=round(os.getloadavg()[0], 1), **extra)
    for name, steps in parts.items():
        emit(BENCH, f"breakdown.{name}", sum(steps.values()), "µs", kind="breakdown",
             parts={k: round(v, 2) for k, v in steps.items()},
             note="each step timed alone, in the same set-up as the rows above (medians); they overlap the "
                  "whole only roughly")
    return 0


def breakdown(hosts: Hosts, repeats: int, min_seconds: float) -> dict[str, dict[str, float]]:
    """What one AWS HTTP event and one SQS record cost, step by step: the measured basis of the
    'what holds it back' notes."""
    from runtime import context
    from runtime import log as jsonlog
    from runtime.adapters import aws, base
    from runtime.types import Response

    ctx = LambdaContext()
    http_event = load("aws", "apigw_v2_http_api")
    wrapper = aws.HttpApiV2Event(http_event)
    request = wrapper.to_request()
    record = aws.SqsRecord(sqs_batch(1)["Records"][0])
    message = record.to_message()
    run_record = base.message_runner(QUEUE_TARGET, "queue", "id", "bench")  # as the adapter, once per batch
    fields = {"trigger": "http", "outcome": "ok", "duration_ms": 0.05, "method": "POST", "path": "/my/path",
              "status": 200}

    def line() -> None:
        # In an invocation of its own: the line draws its correlation id, as a request without a
        # traceparent does.
        token = context.begin("id", None, "bench")
        jsonlog.invocation_line(20, "invocation ok", fields)
        context.end(token)

    # (step, call, whether it runs with the line off); the level is set around a step, not per call
    steps = {
        "http_aws": [
            ("adapter choice", lambda: [a.infer(http_event, ctx) for a in aws.ADAPTERS[4:7]], False),
            ("event to Request", lambda: aws.HttpApiV2Event(http_event).to_request(), False),
            ("context, router, handler (no line)", lambda: base.run_http(HTTP_TARGET, request, invocation_id="id"),
             True),
            ("log line", line, False),
            ("Response to event", lambda: wrapper.from_response(Response.json({"ok": True, "message": "hello"})),
             False),
        ],
        "sqs_record_aws": [
            ("record to Message", lambda: record.to_message(), False),
            ("context and handler", lambda: run_record(message), False),
        ],
    }
    out: dict[str, dict[str, float]] = {}
    root = logging.getLogger()
    hosts.use("aws")
    try:
        for name, calls in steps.items():
            out[name] = {}
            for step, call, quiet in calls:
                root.setLevel(logging.WARNING if quiet else logging.INFO)
                number = _calibrate(call, min_seconds)
                samples = []
                for _ in range(repeats):
                    start = time.perf_counter()
                    for _ in range(number):
                        call()
                    samples.append((time.perf_counter() - start) / number * 1e6)
                out[name][step] = median(samples)
    finally:
        root.setLevel(logging.INFO)
        hosts.restore()
    return out


def _target(case: Case, value: float, peers: dict[str, float], by_event: dict[str, dict[str, float]]) -> dict:
    """The issue-14 target of one of our INFO rows, and whether it is met (no target: {})."""
    if case.event == "http" and case.candidate == "aws" and "powertools" in peers:
        limit = HTTP_VS_POWERTOOLS * peers["powertools"]
        return {"target": f"<= {HTTP_VS_POWERTOOLS:g}x Powertools", "limit_us": round(limit, 2), "met": value <= limit}
    if case.event == "http" and case.candidate in ("azure", "gcp") and "aws" in peers:
        limit = HTTP_VS_AWS * peers["aws"]
        return {"target": f"<= {HTTP_VS_AWS:g}x ours on AWS", "vs_aws": round(value / peers["aws"], 2),
                "limit_us": round(limit, 2), "met": value <= limit}
    if case.event.startswith("sqs_") and "powertools" in peers:
        limit = SQS_VS_POWERTOOLS * peers["powertools"]
        return {"target": f"<= {SQS_VS_POWERTOOLS:g}x Powertools BatchProcessor per record",
                "limit_us": round(limit, 2), "met": value <= limit}
    return {}


if __name__ == "__main__":
    sys.exit(main())
