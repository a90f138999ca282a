"""Runs inside the clean room (`python -I -S cleanroom_driver.py`): loads an unpacked artifact the way
its cloud does and calls the entry point the cloud calls. Standard library only, plus what the
test puts on sys.path (the artifact and what that cloud provides).

Reads one JSON object on stdin:
  cloud, code (the unpacked zip), paths (added to sys.path after it), site_dirs (added as site
  directories, .pth files processed, as pip-installed site-packages are), scenario (Python source
  run with the helpers below), probe (links to exercise through the artifact's own runtime
  clients), inbox (messages to hand the function), fakes (Azure Service Bus / Key Vault and
  Google Secret Manager answers, and smtp: the services that have no emulator here).
Prints one JSON line: what was imported before the first call, the probe results, what the
fakes recorded.
"""

from __future__ import annotations

import base64
import json
import sys
import traceback

SPEC = json.loads(sys.stdin.read())
sys.path[0:0] = [SPEC["code"], *SPEC["paths"]]
if SPEC["site_dirs"]:
    import site  # not imported at start-up under -S; addsitedir processes .pth files like site-packages

    for directory in SPEC["site_dirs"]:
        site.addsitedir(directory)

SDK_ROOTS = (
    "boto3",
    "botocore",
    "azure.data",
    "azure.identity",
    "azure.servicebus",
    "azure.keyvault",
    "azure.core",
    "google.cloud",
    "google.api_core",
    "google.auth",
    "grpc",
)
RECORDED: dict[str, list] = {"sent": [], "secrets": [], "smtp": []}
EVENTS = SPEC["events"]


def _event(cloud: str, source: str) -> dict:
    with open(f"{EVENTS}/{cloud}/{source}.json", encoding="utf-8") as handle:
        return json.load(handle)


def _bytes(body) -> bytes:
    if isinstance(body, bytes):
        return body
    return (body if isinstance(body, str) else json.dumps(body)).encode()


# -- loading the entry point as each cloud does -------------------------------------------------

# The host's own library is loaded before any code of the function (and a .pth file may import
# the bare `google` namespace packages): what the entry adds is measured from here.
if SPEC["cloud"] == "azure":
    import azure.functions  # noqa: F401
elif SPEC["cloud"] == "gcp":
    import functions_framework  # noqa: F401
LOADED_BY_PLATFORM = set(sys.modules)

if SPEC["cloud"] == "aws":
    import omnicloud_entry  # Lambda imports the handler module from /var/task

    ENTRY = omnicloud_entry.handler
elif SPEC["cloud"] == "azure":
    import function_app  # the Python worker imports function_app.py from the app root and indexes it

    (FUNCTION,) = function_app.app.get_functions()
    ENTRY = FUNCTION.get_user_function()
else:
    from functions_framework import (
        create_app,  # Cloud Functions' Python runtime serves main.py through it
    )

    CLIENT = create_app("handle", f"{SPEC['code']}/main.py", "http").test_client()

NAMESPACES = {"google", "google.cloud", "azure"}  # empty namespace packages, not SDKs
IMPORTED_AT_START = sorted(
    m
    for m in set(sys.modules) - LOADED_BY_PLATFORM
    if m.startswith(SDK_ROOTS) and m not in NAMESPACES
)


# -- fakes for the services no emulator covers (FAKES: the SDK's client is real, its network call is not) --


def _install_fakes() -> None:
    fakes = SPEC["fakes"]
    if fakes.get("servicebus"):
        from azure.servicebus import ServiceBusMessageBatch, ServiceBusSender

        def create_message_batch(
            self, max_size_in_bytes=None, **kwargs
        ):  # FAKE: no AMQP link is opened
            return ServiceBusMessageBatch(max_size_in_bytes=max_size_in_bytes or 262144)

        def send_messages(self, message, **kwargs):  # FAKE: records what the real sender was given
            batch = list(getattr(message, "_messages", None) or [message])
            for m in batch:
                RECORDED["sent"].append(
                    {
                        "namespace": self.fully_qualified_namespace,
                        "entity": self.entity_name,
                        "body": base64.b64encode(b"".join(m.body)).decode(),
                        "id": m.message_id,
                        "attributes": {
                            str(k): str(v) for k, v in (m.application_properties or {}).items()
                        },
                        "credential": type(getattr(self, "_credential", None)).__name__,
                    }
                )

        ServiceBusSender.create_message_batch = create_message_batch
        ServiceBusSender.send_messages = send_messages
    if fakes.get("keyvault") is not None:
        from azure.keyvault.secrets import KeyVaultSecret, SecretClient, SecretProperties

        def get_secret(self, name, version=None, **kwargs):  # FAKE: answers from the test's values
            RECORDED["secrets"].append({"vault_url": self.vault_url, "name": name})
            value = fakes["keyvault"][f"{self.vault_url.rstrip('/')}|{name}"]
            return KeyVaultSecret(
                properties=SecretProperties(
                    vault_id=f"{self.vault_url.rstrip('/')}/secrets/{name}"
                ),
                value=value,
            )

        SecretClient.get_secret = get_secret
    if fakes.get("secretmanager") is not None:
        from google.cloud import secretmanager

        def access_secret_version(
            self, name=None, **kwargs
        ):  # FAKE: answers from the test's values
            RECORDED["secrets"].append({"name": name, "transport": type(self._transport).__name__})
            secret = name.rpartition("/versions/")[0]
            payload = secretmanager.SecretPayload(data=fakes["secretmanager"][secret].encode())
            return secretmanager.AccessSecretVersionResponse(name=name, payload=payload)

        secretmanager.SecretManagerServiceClient.access_secret_version = access_secret_version
    if fakes.get("smtp"):
        import smtplib

        class SMTP:  # FAKE: the outside mail relay an example app talks to
            def __init__(self, host, port=0, timeout=None):
                self.record = {"host": host, "port": port}
                RECORDED["smtp"].append(self.record)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def starttls(self):
                self.record["tls"] = True

            def login(self, user, password):
                self.record["login"] = [user, password]

            def send_message(self, message):
                self.record["to"] = message["To"]

        smtplib.SMTP = SMTP


# -- one call of the entry point, in the shape the cloud delivers ---------------------------------


class LambdaContext:
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    function_name = "cleanroom"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:cleanroom"

    def get_remaining_time_in_millis(self):
        return 30_000


class AzureContext:
    invocation_id = "0b4f2e6c-9d1e-4c55-8f33-cleanroom"
    function_name = "cleanroom"
    trace_context = None


def http(method: str, path: str, headers: dict | None = None, body=b"") -> tuple[int, bytes]:
    """An HTTP request through the entry point: (status, body)."""
    headers = {"host": "cleanroom.example.com", **(headers or {})}
    data = _bytes(body)
    if SPEC["cloud"] == "aws":
        event = _event("aws", "apigw_v2_get")
        event.update(
            rawPath=path,
            rawQueryString="",
            headers=headers,
            cookies=[],
            body=base64.b64encode(data).decode(),
            isBase64Encoded=True,
        )
        event["requestContext"]["http"].update(method=method, path=path)
        result = ENTRY(event, LambdaContext())
        out = result.get("body", "")
        return result["statusCode"], base64.b64decode(out) if result.get(
            "isBase64Encoded"
        ) else out.encode()
    if SPEC["cloud"] == "azure":
        import azure.functions as func

        req = func.HttpRequest(
            method=method,
            url=f"https://cleanroom.azurewebsites.net{path}",
            headers=headers,
            params={},
            route_params={"path": path.lstrip("/")},
            body=data,
        )
        response = ENTRY(req, AzureContext())
        return response.status_code, response.get_body()
    # Every HTTP function sits behind API Gateway (x-google-backend with jwt_audience, see
    # providers/gcp.py), which calls it with its own ID token in Authorization and moves the
    # caller's Authorization to X-Forwarded-Authorization (tests/events/gcp/api_gateway_http.json).
    gateway = _event("gcp", "api_gateway_http")["headers"]["Authorization"]
    caller = {k: v for k, v in headers.items() if k.lower() != "authorization"}
    forwarded = [v for k, v in headers.items() if k.lower() == "authorization"]
    if forwarded:
        caller["X-Forwarded-Authorization"] = forwarded[0]
    caller["Authorization"] = gateway
    response = CLIENT.open(path, method=method, headers=caller, data=data)
    return response.status_code, response.get_data()


def message(item: dict) -> None:
    """One queue or topic message (body base64, attributes, id) through the entry point; raises
    when the function reports a failure the cloud would retry."""
    body = base64.b64decode(item["body"])
    attributes = item.get("attributes", {})
    if SPEC["cloud"] == "aws":
        record = _event("aws", "sqs")["Records"][0]
        record.update(
            messageId=item["id"],
            body=body.decode(),
            messageAttributes={
                k: {
                    "stringValue": v,
                    "dataType": "String",
                    "stringListValues": [],
                    "binaryListValues": [],
                }
                for k, v in attributes.items()
            },
        )
        result = ENTRY({"Records": [record]}, LambdaContext())
        if result.get("batchItemFailures"):
            raise AssertionError(f"the function reported {result['batchItemFailures']}")
        return
    if SPEC["cloud"] == "azure":
        from azure.functions import meta
        from azure.functions.servicebus import ServiceBusMessageInConverter

        raw = _event("azure", "servicebus_message")
        metadata = dict(raw["trigger_metadata"])
        metadata["MessageId"] = {"type": "string", "value": item["id"]}
        metadata["ContentType"] = {"type": "string", "value": "application/json"}
        metadata["ApplicationProperties"] = metadata["UserProperties"] = {
            "type": "json",
            "value": json.dumps(attributes),
        }
        msg = ServiceBusMessageInConverter.decode(
            meta.Datum(body, "bytes"),
            trigger_metadata={k: meta.Datum(v["value"], v["type"]) for k, v in metadata.items()},
        )
        ENTRY(msg, AzureContext())
        return
    push = _event("gcp", "pubsub_push")
    push["body"]["message"].update(
        data=base64.b64encode(body).decode(),
        attributes=attributes,
        messageId=item["id"],
        message_id=item["id"],
    )
    response = CLIENT.post("/", headers=push["headers"], data=json.dumps(push["body"]))
    if response.status_code >= 300:
        raise AssertionError(
            f"the push answered {response.status_code}: {response.get_data()[:300]!r}"
        )


def schedule() -> None:
    """One scheduled run through the entry point."""
    if SPEC["cloud"] == "aws":
        ENTRY(_event("aws", "eventbridge_scheduler_default"), LambdaContext())
        return
    if SPEC["cloud"] == "azure":
        from azure.functions import meta
        from azure.functions.timer import TimerRequestConverter

        timer = TimerRequestConverter.decode(
            meta.Datum(json.dumps(_event("azure", "timer")), "json"), trigger_metadata={}
        )
        ENTRY(timer, AzureContext())
        return
    event = _event("gcp", "cloud_scheduler")
    response = CLIENT.post("/", headers=event["headers"], data=event["body"])
    if response.status_code >= 300:
        raise AssertionError(
            f"the scheduler call answered {response.status_code}: {response.get_data()[:300]!r}"
        )


# -- the function's links, through the artifact's own runtime clients -----------------------------


def probe() -> dict:
    import os

    from runtime import Queue, Secret, Table, Topic

    results: dict = {}
    for logical, kind, verbs in SPEC["probe"]:
        link = json.loads(os.environ["OMNICLOUD_LINK_" + logical.upper().replace("-", "_")])
        marker = {"omnicloud-cleanroom": "probe"}
        if kind == "table":
            key = {link.get("partition_key", "pk"): "cleanroom-probe"}
            if link.get("sort_key"):
                key[link["sort_key"]] = SPEC["function"]
            table = Table(logical)
            if "write" in verbs:
                table.put({**key, "written_by": SPEC["function"]})
            if "read" in verbs:
                results[logical] = table.get(*key.values())
        elif kind == "queue":
            Queue(logical).send({"probe": SPEC["function"]}, attributes=marker)
        elif kind == "topic":
            Topic(logical).publish({"probe": SPEC["function"]}, attributes=marker)
        else:
            results[logical] = Secret(logical).value()
    return results


try:
    _install_fakes()
    scope = {
        "http": http,
        "message": message,
        "schedule": schedule,
        "json": json,
        "INBOX": SPEC["inbox"],
        "SECRETS": SPEC["secrets"],
        "FUNCTION": SPEC["function"],
        "RECORDED": RECORDED,
    }
    exec(compile(SPEC["scenario"], f"<scenario {SPEC['function']}>", "exec"), scope)
    probed = probe()
except BaseException:
    traceback.print_exc()
    sys.exit(3)
print(
    json.dumps({"imported_at_start": IMPORTED_AT_START, "probe": probed, **RECORDED}, default=str)
)
