"""The clean room: run an unpacked artifact in a bare interpreter that sees only what its cloud provides.

How the interpreter is kept clean: each function runs as `python<X.Y> -I -S cleanroom_driver.py`.
`-I` ignores PYTHON* variables (so PYTHONPATH cannot leak the project in), the user site and the
current directory; `-S` skips `site`, so not even that interpreter's own site-packages are on
sys.path. The driver then puts on sys.path exactly: the unpacked zip, and what the cloud adds —
- Lambda (python3.12): a boto3 "like the runtime's" (cleanroom/lambda-runtime.txt) where Lambda
  has /var/runtime;
- Azure (python3.11, the Function App's runtime): the zip's `.python_packages/lib/site-packages`,
  then the host's azure-functions (pinned in constraints.txt, installed with its dependencies);
- Google Cloud (python3.12): `pip install --target` of the zip's requirements.txt, added as a site
  directory (what Cloud Build installs into the function's site-packages).
The interpreters are the machine's own CPython builds of those versions (pyenv), never the
project's venv. The installs are cached under the pytest cache, keyed by what they install, so a
rerun installs nothing.

Services: AWS on moto in server mode; Azure tables on Azurite; Google tables and Pub/Sub on the
emulators. Service Bus, Key Vault and Secret Manager have no emulator here: the artifact's real
SDK builds its real client from the function's link environment, and only the network call is
answered by a fake inside the clean room (cleanroom_driver.py, labelled FAKE there).
"""

from __future__ import annotations

import base64
import glob
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
import uuid
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from omnicloud.bundle import build_artifacts
from runtime.links import env_name
from spec import load_app
from tests import emulators
from tests.conftest import cache_dir

HERE = Path(__file__).resolve().parent
DRIVER = HERE.parent / "cleanroom_driver.py"
ROOT = HERE.parents[2]
EVENTS = ROOT / "tests" / "events"
CONSTRAINTS = ROOT / "constraints.txt"
PROBE_ATTRIBUTE = "omnicloud-cleanroom"
READ_DEADLINE = 30.0

# The Python each cloud runs these artifacts on (omnicloud/bundle PYTHON_VERSIONS).
PYTHONS = {"aws": "3.12", "azure": "3.11", "gcp": "3.12"}


def interpreter(version: str) -> Path:
    """A CPython `version` of this machine (PATH, then pyenv's versions), never a virtualenv."""
    candidates = [shutil.which(f"python{version}")]
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates += sorted(
        glob.glob(str(pyenv / "versions" / f"{version}.*" / "bin" / f"python{version}")),
        reverse=True,
    )
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [
                candidate,
                "-I",
                "-c",
                "import sys; print(sys.prefix == sys.base_prefix, '%d.%d' % sys.version_info[:2])",
            ],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0 and probe.stdout.split() == ["True", version]:
            return Path(candidate)
    emulators.unavailable(
        f"no Python {version} on this machine (the clean room runs artifacts on the cloud's"
        f" Python); install it, e.g. `pyenv install {version}`"
    )
    raise AssertionError("unreachable")


def pip_target(
    python: Path, cache: Path, name: str, args: list[str], fingerprint: str = ""
) -> Path:
    """`pip install --target` into a cached directory keyed by what it installs."""
    key = hashlib.sha256(json.dumps([str(python), fingerprint or args]).encode()).hexdigest()[:16]
    final = cache / f"{name}-{key}"
    if (final / ".complete").exists():
        return final
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=cache))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_FIND_LINKS")}
    proc = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--quiet",
            "--no-compile",
            "--target",
            str(work / "site"),
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        errors = [ln for ln in proc.stderr.splitlines() if not ln.startswith("WARNING: Location")]
        raise AssertionError(
            f"pip install {' '.join(args)} for the clean room failed:\n" + "\n".join(errors[-15:])
        )
    (work / "site" / ".complete").write_text("")
    try:
        os.replace(work / "site", final)
    except OSError:
        if not final.is_dir():
            raise
    shutil.rmtree(work, ignore_errors=True)
    return final


@dataclass
class Provided:
    """What one cloud's runtime puts beside an artifact, installed once per cache."""

    cloud: str
    python: Path
    cache: Path

    @classmethod
    def of(cls, cloud: str, config: pytest.Config) -> Provided:
        """The cloud's runtime on its Python, its installs cached in the pytest cache."""
        return cls(cloud, interpreter(PYTHONS[cloud]), cache_dir(config, "cleanroom"))

    def paths_for(self, code: Path) -> tuple[list[str], list[str]]:
        """(sys.path entries, site directories) beyond the unpacked zip itself."""
        if self.cloud == "aws":
            boto3 = pip_target(
                self.python,
                self.cache,
                "lambda-runtime",
                ["--no-deps", "-r", str(HERE / "lambda-runtime.txt")],
            )
            return [str(boto3)], []
        if self.cloud == "azure":
            pin = next(
                ln
                for ln in CONSTRAINTS.read_text().splitlines()
                if ln.startswith("azure-functions==")
            )
            host = pip_target(
                self.python, self.cache, "azure-functions-host", [pin, "-c", str(CONSTRAINTS)]
            )
            return [str(code / ".python_packages" / "lib" / "site-packages"), str(host)], []
        requirements = code / "requirements.txt"
        installed = pip_target(
            self.python,
            self.cache,
            "gcp-build",
            ["-r", str(requirements)],
            fingerprint=requirements.read_text(),
        )
        return [], [str(installed)]


# ----------------------------------------------------------------------------------------------
# Resources of one app on one cloud's emulators, and what reaches its queues and topics.


@dataclass
class Message:
    body: bytes
    attributes: dict[str, str]
    id: str

    def as_json(self) -> dict[str, Any]:
        return {
            "body": base64.b64encode(self.body).decode(),
            "attributes": self.attributes,
            "id": self.id,
        }

    @property
    def is_probe(self) -> bool:
        return self.attributes.get(PROBE_ATTRIBUTE) == "probe"


@dataclass
class World:
    """The app's resources on one cloud: link properties per resource, secret values, messages seen."""

    cloud: str
    env: dict[str, str] = field(
        default_factory=dict
    )  # the cloud's service settings (endpoints, credentials)
    links: dict[str, dict[str, Any]] = field(default_factory=dict)  # logical -> backend properties
    secrets: dict[str, str] = field(default_factory=dict)
    messages: dict[str, list[Message]] = field(
        default_factory=dict
    )  # queue/topic logical -> all seen
    fakes: dict[str, Any] = field(default_factory=dict)

    def link_env(self, app, links: dict[str, list[str]]) -> dict[str, str]:
        out = {}
        for logical, verbs in links.items():
            body = {
                "kind": app.kind_of(logical),
                "verbs": list(verbs),
                "logical": logical,
                **self.links[logical],
            }
            out[env_name(logical)] = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return out

    def drain(self) -> None:
        """Collect what reached each queue and topic since the last call."""
        raise NotImplementedError

    def record_sent(self, sent: list[dict[str, Any]]) -> None:
        """Messages a Service Bus fake recorded in the clean room (Azure)."""


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


class AwsWorld(World):
    region = "us-east-1"

    def __init__(self, endpoint: str):
        super().__init__(
            "aws",
            env={
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": self.region,
                "AWS_EC2_METADATA_DISABLED": "true",
            },
        )
        import boto3

        self.sdk = lambda service: boto3.client(
            service,
            region_name=self.region,
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        self.readers: dict[str, str] = {}

    def table(self, logical: str, spec) -> None:
        name = unique("t-")
        keys = [{"AttributeName": spec.partition_key, "KeyType": "HASH"}]
        attributes = [{"AttributeName": spec.partition_key, "AttributeType": "S"}]
        if spec.sort_key:
            keys.append({"AttributeName": spec.sort_key, "KeyType": "RANGE"})
            attributes.append({"AttributeName": spec.sort_key, "AttributeType": "S"})
        arn = self.sdk("dynamodb").create_table(
            TableName=name,
            KeySchema=keys,
            AttributeDefinitions=attributes,
            BillingMode="PAY_PER_REQUEST",
        )["TableDescription"]["TableArn"]
        self.links[logical] = {
            "name": name,
            "arn": arn,
            "partition_key": spec.partition_key,
            "sort_key": spec.sort_key,
            "ttl": spec.ttl,
        }

    def _sqs(self) -> tuple[str, str]:
        sqs = self.sdk("sqs")
        url = sqs.create_queue(QueueName=unique("q-"))["QueueUrl"]
        return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]

    def queue(self, logical: str) -> None:
        url, arn = self._sqs()
        self.links[logical] = {"url": url, "arn": arn}
        self.readers[logical] = url

    def topic(self, logical: str) -> None:
        sns = self.sdk("sns")
        arn = sns.create_topic(Name=unique("topic-"))["TopicArn"]
        url, queue_arn = self._sqs()
        # As the AWS provider subscribes each subscriber's queue: raw delivery, attributes kept.
        sns.subscribe(
            TopicArn=arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "true"},
        )
        self.links[logical] = {"arn": arn}
        self.readers[logical] = url

    def secret(self, logical: str, value: str) -> None:
        arn = self.sdk("secretsmanager").create_secret(Name=unique("s-"), SecretString=value)["ARN"]
        self.links[logical] = {"arn": arn}
        self.secrets[logical] = value

    def drain(self) -> None:
        sqs = self.sdk("sqs")
        for logical, url in self.readers.items():
            while True:
                got = sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=10,
                    MessageAttributeNames=["All"],
                    WaitTimeSeconds=0,
                ).get("Messages", [])
                if not got:
                    break
                for m in got:
                    attributes = {
                        k: v["StringValue"] for k, v in m.get("MessageAttributes", {}).items()
                    }
                    body = m["Body"].encode()
                    if attributes.get("body-encoding") == "base64":
                        body = base64.b64decode(body)
                    self.messages.setdefault(logical, []).append(
                        Message(body, attributes, m["MessageId"])
                    )
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


class AzureWorld(World):
    namespace = "cleanroom.servicebus.windows.net"
    vault_url = "https://cleanroom.vault.azure.net/"

    def __init__(self, connection_string: str):
        super().__init__(
            "azure",
            env={
                "AZURE_TABLES_CONNECTION_STRING": connection_string,
                # Where managed identity would ask for a token: nothing on
                # this machine answers there, and nothing here asks.
                "AZURE_POD_IDENTITY_AUTHORITY_HOST": "http://127.0.0.1:9",
            },
            fakes={"servicebus": True, "keyvault": {}},
        )
        self.connection_string = connection_string
        self.entities: dict[str, str] = {}

    def table(self, logical: str, spec) -> None:
        from azure.data.tables import TableServiceClient

        name = unique("t")
        TableServiceClient.from_connection_string(self.connection_string).create_table(name)
        self.links[logical] = {
            "endpoint": "https://cleanroom.table.core.windows.net",
            "name": name,
            "partition_key": spec.partition_key,
            "sort_key": spec.sort_key,
            "ttl": spec.ttl,
        }

    def queue(self, logical: str) -> None:
        name = unique("q-")
        self.links[logical] = {"namespace": self.namespace, "name": name}
        self.entities[name] = logical

    topic = queue

    def secret(self, logical: str, value: str) -> None:
        name = unique("s-")
        self.links[logical] = {"vault_url": self.vault_url, "name": name}
        self.fakes["keyvault"][f"{self.vault_url.rstrip('/')}|{name}"] = value
        self.secrets[logical] = value

    def drain(self) -> None:
        pass

    def record_sent(self, sent: list[dict[str, Any]]) -> None:
        for item in sent:
            assert (
                item["namespace"] == self.namespace
                and item["credential"] == "DefaultAzureCredential"
            ), item
            self.messages.setdefault(self.entities[item["entity"]], []).append(
                Message(base64.b64decode(item["body"]), item["attributes"], item["id"])
            )


class GcpWorld(World):
    project = "demo-omnicloud"

    def __init__(self, hosts: dict[str, str], workdir: Path):
        # Secret Manager's client asks google.auth for credentials when it is built: an authorized-user
        # file answers that offline (a function on Cloud Functions gets them from its metadata server,
        # which GCE_METADATA_HOST/IP point at a closed loopback port here, so nothing probes for it).
        adc = workdir / "adc.json"
        adc.write_text(
            json.dumps(
                {
                    "type": "authorized_user",
                    "client_id": "cleanroom",
                    "client_secret": "cleanroom",
                    "refresh_token": "cleanroom",
                }
            )
        )
        super().__init__(
            "gcp",
            env={
                "FIRESTORE_EMULATOR_HOST": hosts["firestore"],
                "PUBSUB_EMULATOR_HOST": hosts["pubsub"],
                "GOOGLE_CLOUD_PROJECT": self.project,
                "GOOGLE_APPLICATION_CREDENTIALS": str(adc),
                "GCE_METADATA_HOST": "127.0.0.1:9",
                "GCE_METADATA_IP": "127.0.0.1:9",
            },
            fakes={"secretmanager": {}},
        )
        from google.cloud import pubsub_v1

        saved = os.environ.get("PUBSUB_EMULATOR_HOST")
        os.environ["PUBSUB_EMULATOR_HOST"] = hosts["pubsub"]  # read when the clients are built
        try:
            self.publisher, self.subscriber = (
                pubsub_v1.PublisherClient(),
                pubsub_v1.SubscriberClient(),
            )
        finally:
            if saved is None:
                os.environ.pop("PUBSUB_EMULATOR_HOST")
            else:
                os.environ["PUBSUB_EMULATOR_HOST"] = saved
        self.readers: dict[str, str] = {}

    def table(self, logical: str, spec) -> None:
        self.links[logical] = {
            "project": self.project,
            "database": "(default)",
            "collection": unique("c"),
            "partition_key": spec.partition_key,
            "sort_key": spec.sort_key,
            "ttl": spec.ttl,
        }

    def queue(self, logical: str) -> None:
        topic = self.publisher.topic_path(self.project, unique("topic-"))
        subscription = self.subscriber.subscription_path(self.project, unique("sub-"))
        self.publisher.create_topic(name=topic)
        self.subscriber.create_subscription(name=subscription, topic=topic)
        self.links[logical] = {"topic": topic}
        self.readers[logical] = subscription

    topic = queue

    def secret(self, logical: str, value: str) -> None:
        name = f"projects/{self.project}/secrets/{unique('s-')}"
        self.links[logical] = {"name": name}
        self.fakes["secretmanager"][name] = value
        self.secrets[logical] = value

    def drain(self, until_probes: list[str] = ()) -> None:
        """Pull everything; keep pulling until each topic in `until_probes` delivered its probe."""
        waiting = set(until_probes)
        deadline = emulators.time.monotonic() + READ_DEADLINE
        while True:
            for logical, subscription in self.readers.items():
                with (
                    warnings.catch_warnings()
                ):  # deprecated, yet what lets an empty pull answer at once
                    warnings.simplefilter("ignore", DeprecationWarning)
                    response = self.subscriber.pull(
                        subscription=subscription,
                        max_messages=100,
                        timeout=10,
                        return_immediately=True,
                    )
                if response.received_messages:
                    self.subscriber.acknowledge(
                        subscription=subscription,
                        ack_ids=[m.ack_id for m in response.received_messages],
                    )
                for m in response.received_messages:
                    message = Message(
                        m.message.data, dict(m.message.attributes), m.message.message_id
                    )
                    self.messages.setdefault(logical, []).append(message)
                    if message.is_probe:
                        waiting.discard(logical)
            if not waiting or emulators.time.monotonic() > deadline:
                return
            emulators.time.sleep(0.2)


# ----------------------------------------------------------------------------------------------
# Building, unpacking and running.


def build(app_dir: Path, cloud: str, out: Path) -> dict[str, Path]:
    """Package the app as `omnicloud package` does and unpack each artifact into its own directory."""
    app = load_app(app_dir / "app.yaml")
    # Lambda functions default to arm64, whose native wheels cannot load on this x86_64 machine:
    # the clean room runs the x86_64 build of the same function (same sources, requirements and
    # SDK set; only the wheels' platform differs). Azure and Google Cloud run x86_64 anyway.
    architecture = "x86_64" if cloud == "aws" and platform.machine() == "x86_64" else None
    artifacts = build_artifacts(
        app, app_dir, cloud, out / "zips", architecture=architecture, progress=None
    )
    unpacked = {}
    for name, artifact in artifacts.items():
        target = out / "unpacked" / name
        with zipfile.ZipFile(artifact.path) as zf:
            zf.extractall(target)
        unpacked[name] = target
    return unpacked


def provision(world: World, app, secrets: dict[str, str]) -> None:
    for logical, spec in app.tables.items():
        world.table(logical, spec)
    for logical in app.queues:
        world.queue(logical)
    for logical in app.topics:
        world.topic(logical)
    for logical in app.secrets:
        world.secret(logical, secrets.get(logical) or unique("secret-"))


def matches(filter_: dict[str, Any] | None, attributes: dict[str, str]) -> bool:
    """The subscription filter of app.yaml, as each cloud applies it to message attributes."""
    for key, wanted in (filter_ or {}).items():
        values = wanted if isinstance(wanted, list) else [wanted]
        if attributes.get(key) not in [str(v) for v in values]:
            return False
    return True


def inbox(world: World, app, fn, delivered: dict[str, int]) -> list[dict[str, Any]]:
    """The messages the cloud would deliver to `fn` now (its queue, or its topic through its filter)."""
    if fn.queue is not None:
        source, filter_ = fn.queue.name, None
    elif fn.topic is not None:
        source, filter_ = fn.topic.name, fn.topic.filter
    else:
        return []
    seen = world.messages.get(source, [])
    key = f"{source}->{id(fn)}"
    fresh, delivered[key] = seen[delivered.get(key, 0) :], len(seen)
    return [m.as_json() for m in fresh if not m.is_probe and matches(filter_, m.attributes)]


def function_env(world: World, app, name: str, fn) -> dict[str, str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(Path(tempfile.gettempdir())),
        "LANG": "C.UTF-8",
        "OMNICLOUD_CLOUD": world.cloud,
        "OMNICLOUD_FUNCTION": name,
        "OMNICLOUD_HANDLER": fn.handler,
        "OMNICLOUD_TRIGGER": fn.trigger,
        **world.env,
        **fn.env,
        **world.link_env(app, fn.links),
    }
    if fn.http is not None:
        env["OMNICLOUD_HTTP_PREFIX"] = fn.http
    return env


def _fakes_for(world: World, kinds: set[str]) -> dict[str, Any]:
    """Only the fakes of services the function links: a function without them has no such SDK."""
    needs = {"servicebus": {"queue", "topic"}, "keyvault": {"secret"}, "secretmanager": {"secret"}}
    return {name: value for name, value in world.fakes.items() if needs[name] & kinds}


def run_function(
    provided: Provided,
    code: Path,
    world: World,
    app,
    name: str,
    scenario: str,
    inbox_items: list[dict[str, Any]],
    home: Path,
) -> dict[str, Any]:
    """Run one function's scenario in the clean room; the driver's JSON report."""
    fn = app.functions[name]
    paths, site_dirs = provided.paths_for(code)
    spec = {
        "cloud": world.cloud,
        "code": str(code),
        "paths": paths,
        "site_dirs": site_dirs,
        "events": str(EVENTS),
        "function": name,
        "scenario": scenario,
        "inbox": inbox_items,
        "secrets": world.secrets,
        "probe": [
            [logical, app.kind_of(logical), list(verbs)]
            for logical, verbs in sorted(fn.links.items())
        ],
        "fakes": {
            **_fakes_for(world, {app.kind_of(logical) for logical in fn.links}),
            "smtp": True,
        },
    }
    env = function_env(world, app, name, fn)
    env["HOME"] = str(home)
    proc = subprocess.run(
        [str(provided.python), "-I", "-S", str(DRIVER)],
        input=json.dumps(spec),
        text=True,
        capture_output=True,
        env=env,
        cwd=str(code),
        timeout=300,
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"{world.cloud} function {name!r} failed in the clean room"
            f" (exit {proc.returncode}):\n{proc.stderr[-6000:]}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


SDK_FREE = re.compile(
    r"^(boto3|botocore|azure\.(data|identity|servicebus|keyvault|core)|google\.(cloud|api_core|auth)|grpc)"
)


def seed(
    world: World, app, rows: dict[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Items the scenario expects to exist, written through the runtime's own clients (in this process)."""
    if not rows:
        return
    from runtime.clients import Table
    from runtime.links import use_environ

    for key, value in world.env.items():
        monkeypatch.setenv(key, value)
    for table, items in rows.items():
        environ = {
            **os.environ,
            "OMNICLOUD_CLOUD": world.cloud,
            "OMNICLOUD_FUNCTION": "cleanroom-seed",
            **world.link_env(app, {table: ["write"]}),
        }
        with use_environ(environ):
            client = Table(table)
            for item in items:
                client.put(item)


def check_probe(world: World, app, name: str, report: dict[str, Any]) -> None:
    """Every link of the function was used from the artifact, and did what it should."""
    assert report["imported_at_start"] == [], f"{name}: the entry imported cloud SDKs at start-up"
    for logical, verbs in app.functions[name].links.items():
        kind = app.kind_of(logical)
        where = f"{world.cloud} function {name!r}, {kind} {logical!r}"
        if kind == "table":
            got = report["probe"].get(logical, "missing")
            if "write" in verbs and "read" in verbs:
                assert isinstance(got, dict) and got.get("written_by") == name, (
                    f"{where}: read back {got!r}"
                )
            elif "read" in verbs:
                assert got is None or isinstance(got, dict), f"{where}: read {got!r}"
        elif kind in ("queue", "topic"):
            probes = [
                m
                for m in world.messages.get(logical, [])
                if m.is_probe and json.loads(m.body) == {"probe": name}
            ]
            assert probes, f"{where}: the probe message never arrived"
        else:
            assert report["probe"].get(logical) == world.secrets[logical], (
                f"{where}: read {report['probe'].get(logical)!r}"
            )


def run_app(
    provided: Provided,
    world: World,
    scenario,
    tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    unpacked: dict[str, Path] | None = None,
    only: list[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Package the app, provision its resources, then run each function's scenario in the clean room."""
    app = load_app(scenario.app_dir / "app.yaml")
    assert list(scenario.steps) == [n for n in scenario.steps if n in app.functions]
    assert set(scenario.steps) == set(app.functions), "every function of the app needs a scenario"
    unpacked = unpacked or build(scenario.app_dir, world.cloud, tmp)
    provision(world, app, scenario.secrets)
    seed(world, app, scenario.seed, monkeypatch)
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    delivered: dict[str, int] = {}
    reports = {}
    for name, source in scenario.steps.items():
        if only is not None and name not in only:
            continue
        fn = app.functions[name]
        items = inbox(world, app, fn, delivered)
        report = run_function(provided, unpacked[name], world, app, name, source, items, home)
        world.record_sent(report["sent"])
        sending = [lg for lg in fn.links if app.kind_of(lg) in ("queue", "topic")]
        if isinstance(world, GcpWorld):
            world.drain(until_probes=sending)
        else:
            world.drain()
        check_probe(world, app, name, report)
        reports[name] = report
    return reports
