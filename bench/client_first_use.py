"""First use of a cloud client in a fresh process, and its reuse while warm: boto3 directly and our facades.

Against moto in server mode on 127.0.0.1 (started and stopped here; no real cloud). Each run is
a fresh `python -I` process that times, in-process: importing boto3, creating the SQS and
DynamoDB clients, their first and a warm call; then the same through runtime's Queue.send and
Table.get, whose first call imports boto3 and creates the client itself.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, emit, log, median, percentile  # noqa: E402
from runtime.links import link_env  # noqa: E402

BENCH = "client_first_use"
REGION = "us-east-1"
QUEUE, TABLE = "bench-jobs", "bench-items"

PRELUDE = f"""
import json, sys, time
sys.path.insert(0, {str(ROOT)!r})
out = {{}}
def lap(name, start):
    now = time.perf_counter()
    out[name] = (now - start) * 1000
    return now
"""

BOTO3 = """
t = time.perf_counter()
import boto3
t = lap("import_boto3", t)
sqs = boto3.client("sqs", region_name="us-east-1")
t = lap("sqs_client_first", t)
sqs.send_message(QueueUrl=URL, MessageBody="hello")
t = lap("sqs_call_first", t)
sqs.send_message(QueueUrl=URL, MessageBody="hello")
t = lap("sqs_call_warm", t)
boto3.client("sqs", region_name="us-east-1")
t = lap("sqs_client_again", t)
ddb = boto3.client("dynamodb", region_name="us-east-1")
t = lap("dynamodb_client_first", t)
ddb.get_item(TableName=TABLE, Key={"pk": {"S": "a"}, "sk": {"S": "b"}})
t = lap("dynamodb_call_first", t)
ddb.get_item(TableName=TABLE, Key={"pk": {"S": "a"}, "sk": {"S": "b"}})
t = lap("dynamodb_call_warm", t)
print(json.dumps(out))
"""

RUNTIME = """
t = time.perf_counter()
from runtime import Queue, Table
t = lap("import_runtime", t)
queue, table = Queue(QUEUE), Table(TABLE)
t = time.perf_counter()
queue.send({"hello": "world"})
t = lap("queue_send_first", t)
queue.send({"hello": "world"})
t = lap("queue_send_warm", t)
table.get("a", "b")
t = lap("table_get_first", t)
table.get("a", "b")
t = lap("table_get_warm", t)
assert "boto3" in sys.modules
print(json.dumps(out))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MotoServer:
    """moto in server mode on 127.0.0.1, in its own process group (stopped with it)."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> MotoServer:
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1):
                    return self
            except OSError:
                if self.proc.poll() is not None:
                    raise SystemExit("client first use: moto server exited before it was ready") from None
                if time.monotonic() > deadline:
                    self.__exit__()
                    raise SystemExit("client first use: moto server not ready after 60 s") from None
                time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


def _env(moto: MotoServer, queue_url: str, config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OMNICLOUD_", "PYTHON"))}
    env.update(AWS_ENDPOINT_URL=moto.url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION, AWS_CONFIG_FILE=str(config),
               AWS_SHARED_CREDENTIALS_FILE=str(config), OMNICLOUD_CLOUD="aws", OMNICLOUD_FUNCTION="bench")
    env.update(link_env(QUEUE, "queue", ["send"], url=queue_url, arn=f"arn:aws:sqs:{REGION}:123456789012:{QUEUE}"))
    env.update(link_env(TABLE, "table", ["read"], name=TABLE, partition_key="pk", sort_key="sk"))
    return env


def _setup(moto: MotoServer) -> str:
    import boto3

    kwargs = dict(region_name=REGION, endpoint_url=moto.url, aws_access_key_id="testing",
                  aws_secret_access_key="testing")
    url = boto3.client("sqs", **kwargs).create_queue(QueueName=QUEUE)["QueueUrl"]
    boto3.client("dynamodb", **kwargs).create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
    return url


def _child(code: str, env: dict[str, str]) -> dict[str, float]:
    proc = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, env=env,
                          cwd=tempfile.gettempdir())
    if proc.returncode != 0:
        raise SystemExit(f"client first use: child failed: {proc.stderr.strip().splitlines()[-3:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="6 runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs = 6
    samples: dict[str, list[float]] = {}
    with MotoServer() as moto, tempfile.TemporaryDirectory(prefix="omnicloud-client-") as tmp:
        config = Path(tmp) / "aws-config"
        config.write_text("")
        url = _setup(moto)
        env = _env(moto, url, config)
        consts = f"URL = {url!r}\nQUEUE = {QUEUE!r}\nTABLE = {TABLE!r}\n"
        codes = {"boto3": PRELUDE + consts + BOTO3, "runtime": PRELUDE + consts + RUNTIME}
        log(f"client first use: moto on {moto.url}, {args.runs} fresh processes per candidate")
        for _ in range(1):  # warm-up: .pyc files, moto's own first requests
            for code in codes.values():
                _child(code, env)
        for _ in range(args.runs):
            for name, code in codes.items():
                for key, value in _child(code, env).items():
                    samples.setdefault(f"{name}.{key}", []).append(value)

    def figure(key: str, label: str, **extra) -> float:
        values = samples[key]
        value = median(values)
        emit(BENCH, key, value, "ms", label=label, p90_ms=round(percentile(values, 90), 2), runs=len(values), **extra)
        return value

    figure("boto3.import_boto3", "import boto3 (fresh process)")
    sqs_client = figure("boto3.sqs_client_first", "boto3.client('sqs'), first in the process")
    figure("boto3.sqs_client_again", "boto3.client('sqs') again (loaders cached)")
    figure("boto3.sqs_call_first", "first send_message on a new client")
    sqs_warm = figure("boto3.sqs_call_warm", "send_message, warm client")
    figure("boto3.dynamodb_client_first", "boto3.client('dynamodb') after an SQS client")
    figure("boto3.dynamodb_call_first", "first get_item on a new client")
    ddb_warm = figure("boto3.dynamodb_call_warm", "get_item, warm client")
    figure("runtime.import_runtime", "from runtime import Queue, Table")
    boto3_first = (median(samples["boto3.import_boto3"]) + sqs_client + median(samples["boto3.sqs_call_first"]))
    q_first = figure("runtime.queue_send_first", "Queue.send, first call (imports boto3, creates the client)",
                     boto3_equivalent_ms=round(boto3_first, 2),
                     note="boto3_equivalent_ms = import boto3 + client('sqs') + first send_message, measured above")
    q_warm = figure("runtime.queue_send_warm", "Queue.send, warm")
    t_first = figure("runtime.table_get_first", "Table.get, first call (boto3 already imported)")
    t_warm = figure("runtime.table_get_warm", "Table.get, warm")
    emit(BENCH, "runtime.queue_first_over_warm", q_first / q_warm, "x", label="Queue.send first / warm")
    emit(BENCH, "runtime.queue_warm_over_boto3", q_warm / sqs_warm, "x",
         label="Queue.send warm / boto3 send_message warm (facade cost per call)")
    emit(BENCH, "runtime.table_first_over_warm", t_first / t_warm, "x", label="Table.get first / warm")
    emit(BENCH, "runtime.table_warm_over_boto3", t_warm / ddb_warm, "x",
         label="Table.get warm / boto3 get_item warm (facade cost per call)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
