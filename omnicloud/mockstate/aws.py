"""What AWS would compute for each resource (physical names, ARNs, URLs, ids), shaped like the real
provider's outputs, so a preview's wiring (policies, env JSON, triggers) shows real-looking values."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from . import default_state

ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"


def region() -> str:
    try:
        from pulumi.runtime.config import get_config

        return get_config("aws:region") or DEFAULT_REGION
    except Exception:  # outside a Pulumi program (plain unit tests)
        return DEFAULT_REGION


def _digest(*parts: str, length: int = 7) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def physical_name(resource_name: str, inputs: dict[str, Any] | None = None) -> str:
    """The name Pulumi auto-naming would give (`<resource name>-<7 hex>`), unless one was set."""
    inputs = inputs or {}
    if inputs.get("name"):
        return str(inputs["name"])
    if inputs.get("namePrefix"):
        return f"{inputs['namePrefix']}{_digest(resource_name, length=26)}"
    return f"{resource_name}-{_digest(resource_name)}"


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


def _table(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    physical = physical_name(name, inputs)
    arn = f"arn:aws:dynamodb:{region()}:{ACCOUNT}:table/{physical}"
    state = {"name": physical, "arn": arn}
    if inputs.get("streamEnabled"):
        state["streamArn"] = f"{arn}/stream/2024-01-01T00:00:00.000"
    return physical, state


def _queue(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    physical = physical_name(name, inputs)
    if inputs.get("fifoQueue") and not physical.endswith(".fifo"):
        physical += ".fifo"
    url = f"https://sqs.{region()}.amazonaws.com/{ACCOUNT}/{physical}"
    return url, {"name": physical, "url": url, "arn": f"arn:aws:sqs:{region()}:{ACCOUNT}:{physical}"}


def _queue_policy(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return str(inputs.get("queueUrl", f"{name}-id")), {}


def _topic(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    physical = physical_name(name, inputs)
    arn = f"arn:aws:sns:{region()}:{ACCOUNT}:{physical}"
    return arn, {"name": physical, "arn": arn, "owner": ACCOUNT}


def _subscription(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    arn = f"{inputs.get('topic', name)}:{_uuid(name)}"
    return arn, {"arn": arn, "ownerId": ACCOUNT, "pendingConfirmation": False}


def _secret(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    physical = physical_name(name, inputs)
    # Secrets Manager appends six random characters to every secret ARN.
    arn = f"arn:aws:secretsmanager:{region()}:{ACCOUNT}:secret:{physical}-{_digest(physical, length=6)}"
    return arn, {"name": physical, "arn": arn}


def _secret_version(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    version = _uuid(name, "version")
    secret = str(inputs.get("secretId", name))
    return f"{secret}|{version}", {"arn": secret, "versionId": version, "versionStages": ["AWSCURRENT"]}


def _role(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    physical = physical_name(name, inputs)
    path = inputs.get("path") or "/"
    return physical, {"name": physical, "arn": f"arn:aws:iam::{ACCOUNT}:role{path}{physical}",
                      "uniqueId": "AROA" + _digest(physical, length=17).upper(), "path": path}


def _role_policy(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    physical = physical_name(name, inputs)
    return f"{inputs.get('role', '')}:{physical}", {"name": physical}


def _log_group(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    physical = physical_name(name, inputs)
    return physical, {"name": physical, "arn": f"arn:aws:logs:{region()}:{ACCOUNT}:log-group:{physical}"}


def _invoke_arn(function_arn: str) -> str:
    return f"arn:aws:apigateway:{region()}:lambda:path/2015-03-31/functions/{function_arn}/invocations"


def _function_arn(name_or_arn: str) -> str:
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    return f"arn:aws:lambda:{region()}:{ACCOUNT}:function:{name_or_arn}"


def _function(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    physical = physical_name(name, inputs)
    arn = _function_arn(physical)
    version = "1" if inputs.get("publish") else "$LATEST"
    state = {"name": physical, "arn": arn, "invokeArn": _invoke_arn(arn), "version": version,
             "qualifiedArn": f"{arn}:{version}", "qualifiedInvokeArn": _invoke_arn(f"{arn}:{version}"),
             "lastModified": "2024-01-01T00:00:00.000+0000", "state": "Active"}
    if inputs.get("sourceCodeHash"):
        state["codeSha256"] = inputs["sourceCodeHash"]
    return physical, state


def _alias(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    arn = f"{_function_arn(str(inputs.get('functionName', name)))}:{inputs.get('name', name)}"
    return arn, {"arn": arn, "invokeArn": _invoke_arn(arn)}


def _provisioned(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return f"{inputs.get('functionName', name)},{inputs.get('qualifier', '')}", {}


def _event_source_mapping(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    mapping = _uuid(name, "esm")
    return mapping, {"uuid": mapping, "functionArn": _function_arn(str(inputs.get("functionName", name))),
                     "state": "Enabled",
                     "arn": f"arn:aws:lambda:{region()}:{ACCOUNT}:event-source-mapping:{mapping}"}


def _permission(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    statement = inputs.get("statementId") or physical_name(name)
    return statement, {"statementId": statement}


def _api(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    api_id = _digest(name, length=10)
    return api_id, {"name": physical_name(name, inputs),
                    "apiEndpoint": f"https://{api_id}.execute-api.{region()}.amazonaws.com",
                    "executionArn": f"arn:aws:execute-api:{region()}:{ACCOUNT}:{api_id}",
                    "arn": f"arn:aws:apigateway:{region()}::/apis/{api_id}"}


def _short_id(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return _digest(name), {}


def _stage(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    api_id = str(inputs.get("apiId", ""))
    stage = str(inputs.get("name", name))
    path = "" if stage == "$default" else stage
    return stage, {"invokeUrl": f"https://{api_id}.execute-api.{region()}.amazonaws.com/{path}",
                   "executionArn": f"arn:aws:execute-api:{region()}:{ACCOUNT}:{api_id}/{stage}",
                   "arn": f"arn:aws:apigateway:{region()}::/apis/{api_id}/stages/{stage}"}


def _schedule(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    physical = physical_name(name, inputs)
    group = inputs.get("groupName") or "default"
    return f"{group}/{physical}", {"name": physical, "groupName": group,
                                   "arn": f"arn:aws:scheduler:{region()}:{ACCOUNT}:schedule/{group}/{physical}"}


_BUILDERS = {
    "aws:dynamodb/table:Table": _table,
    "aws:sqs/queue:Queue": _queue,
    "aws:sqs/queuePolicy:QueuePolicy": _queue_policy,
    "aws:sns/topic:Topic": _topic,
    "aws:sns/topicSubscription:TopicSubscription": _subscription,
    "aws:secretsmanager/secret:Secret": _secret,
    "aws:secretsmanager/secretVersion:SecretVersion": _secret_version,
    "aws:iam/role:Role": _role,
    "aws:iam/rolePolicy:RolePolicy": _role_policy,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:lambda/function:Function": _function,
    "aws:lambda/alias:Alias": _alias,
    "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig": _provisioned,
    "aws:lambda/eventSourceMapping:EventSourceMapping": _event_source_mapping,
    "aws:lambda/permission:Permission": _permission,
    "aws:apigatewayv2/api:Api": _api,
    "aws:apigatewayv2/integration:Integration": _short_id,
    "aws:apigatewayv2/route:Route": _short_id,
    "aws:apigatewayv2/stage:Stage": _stage,
    "aws:scheduler/schedule:Schedule": _schedule,
}


def state(type_: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(id, outputs) for a resource: its inputs plus what AWS fills in."""
    builder = _BUILDERS.get(type_)
    if builder is None:
        return default_state(name, inputs)
    resource_id, computed = builder(name, inputs)
    outputs = {**inputs, **computed}
    if "tags" in inputs:
        outputs["tagsAll"] = inputs["tags"]
    return resource_id, outputs


def call(token: str, args: dict[str, Any]) -> dict[str, Any]:
    """Results of the invokes a program may make (caller identity, region, partition)."""
    if token == "aws:index/getCallerIdentity:getCallerIdentity":
        return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/omnicloud-preview",
                "userId": "AIDA" + _digest("preview", length=17).upper(), "id": ACCOUNT}
    if token == "aws:index/getRegion:getRegion":
        return {"name": region(), "region": region(), "id": region(),
                "endpoint": f"ec2.{region()}.amazonaws.com", "description": region()}
    if token == "aws:index/getPartition:getPartition":
        return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws",
                "reverseDnsPrefix": "com.amazonaws"}
    return dict(args)
