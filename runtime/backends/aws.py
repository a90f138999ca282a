"""AWS backend: DynamoDB tables, SQS queues, SNS topics and Secrets Manager secrets, over boto3.

boto3 is imported on first use and its clients are cached per process; it honours
AWS_ENDPOINT_URL, so the same code talks to moto in tests. Message bodies that are not valid
SQS/SNS text (binary, control characters) travel base64-encoded with the attribute
`body-encoding: base64`. SQS standard queues cannot deduplicate: a dedup id travels as the
attribute `dedup-id` for the consumer to check (SQS FIFO is not used).
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from ..links import Link
from .base import (
    ConditionFailed,
    OutgoingMessage,
    Page,
    access_denied,
    decode_cursor,
    encode_cursor,
    not_deployed,
)

CLOUD = "AWS"
DEDUP_ATTRIBUTE = "dedup-id"
BODY_ENCODING_ATTRIBUTE = "body-encoding"
SQS_BATCH_COUNT = 10
SQS_BATCH_BYTES = 256 * 1024
MAX_ATTRIBUTES = 10  # SQS and SNS (when delivered to SQS) carry at most 10 message attributes

_DENIED = {"AccessDenied", "AccessDeniedException", "AuthorizationError", "UnauthorizedOperation",
           "KMSAccessDeniedException", "KMS.AccessDeniedException"}
_MISSING = {"ResourceNotFoundException", "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist",
            "NotFound", "NotFoundException"}
# XML 1.0 characters, which are all SQS accepts in a message body.
_SQS_TEXT = re.compile("^[\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*$")

_clients: dict[tuple[str, str | None, str | None], Any] = {}
_lock = threading.Lock()


def client(service: str, region: str | None = None) -> Any:
    """A boto3 client, created once per process (and per endpoint, so tests can point at moto)."""
    key = (service, region, os.environ.get("AWS_ENDPOINT_URL"))
    found = _clients.get(key)
    if found is None:
        with _lock:
            found = _clients.get(key)
            if found is None:
                import boto3

                found = _clients[key] = boto3.client(service, region_name=region)
    return found


def _region(link: Link, arn: str | None = None) -> str | None:
    """The link's region, else the one in its ARN, else boto3's default (AWS_REGION on Lambda)."""
    if link.get("region"):
        return link.get("region")
    parts = (arn or "").split(":")
    return parts[3] if len(parts) > 5 and parts[0] == "arn" and parts[3] else None


@contextlib.contextmanager
def _errors(link: Link, action: str, physical: str) -> Iterator[None]:
    from botocore.exceptions import ClientError

    try:
        yield
    except ClientError as error:
        raise translate(error, link, action, physical) from None


def translate(error: Exception, link: Link, action: str, physical: str) -> Exception:
    """A clear LinkError / NotDeployed for the AWS errors a user can fix; others unchanged."""
    code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
    if code in _DENIED:
        return access_denied(CLOUD, link, action, physical)
    if code in _MISSING:
        return not_deployed(CLOUD, link, physical)
    return error


# -- DynamoDB ----------------------------------------------------------------------------


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {str(k): _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    if isinstance(value, (set, frozenset)):  # written by another tool: JSON has no sets
        return sorted(_from_dynamo(v) for v in value)
    if type(value).__name__ == "Binary":
        return base64.b64encode(value.value).decode()
    return value


class DynamoTable:
    def __init__(self, link: Link):
        self.link = link
        self.name = link.require("name")
        self.partition_key = link.get("partition_key", "pk")
        self.sort_key = link.get("sort_key")
        self.client = client("dynamodb", _region(link, link.get("arn")))
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self._serialize = TypeSerializer().serialize
        self._deserialize = TypeDeserializer().deserialize

    def _key(self, pk: str, sk: str | None) -> dict[str, Any]:
        key = {self.partition_key: {"S": pk}}
        if self.sort_key:
            key[self.sort_key] = {"S": sk}
        return key

    def _item(self, raw: dict[str, Any]) -> dict[str, Any]:
        return {k: _from_dynamo(self._deserialize(v)) for k, v in raw.items()}

    def _condition(self, condition: Any) -> dict[str, Any]:
        if condition is None:
            return {}
        if condition == "absent":
            return {"ConditionExpression": "attribute_not_exists(#pk)",
                    "ExpressionAttributeNames": {"#pk": self.partition_key}}
        if isinstance(condition, (tuple, list)) and len(condition) == 2 and condition[0] == "version":
            return {"ConditionExpression": "#v = :v", "ExpressionAttributeNames": {"#v": "_version"},
                    "ExpressionAttributeValues": {":v": {"N": str(int(condition[1]))}}}
        raise ValueError(f"unknown write condition {condition!r}; use 'absent' or ('version', n)")

    def _conditional(self, call: Any, condition: Any, key: str, action: str, **kwargs: Any) -> None:
        from botocore.exceptions import ClientError

        try:
            call(TableName=self.name, **kwargs, **self._condition(condition))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise ConditionFailed(f"{self.link.logical}: condition {condition!r} failed for item {key}") from None
            raise translate(error, self.link, action, self.name) from None

    def put(self, item: dict[str, Any], condition: Any = None) -> None:
        key = repr(item.get(self.partition_key)) + (f"/{item.get(self.sort_key)!r}" if self.sort_key else "")
        data = {k: self._serialize(_to_dynamo(v)) for k, v in item.items()}
        self._conditional(self.client.put_item, condition, key, "dynamodb:PutItem", Item=data)

    def get(self, pk: str, sk: str | None) -> dict[str, Any] | None:
        with _errors(self.link, "dynamodb:GetItem", self.name):
            raw = self.client.get_item(TableName=self.name, Key=self._key(pk, sk), ConsistentRead=True).get("Item")
        return self._item(raw) if raw else None

    def delete(self, pk: str, sk: str | None, condition: Any = None) -> None:
        key = repr(pk) + (f"/{sk!r}" if self.sort_key else "")
        self._conditional(self.client.delete_item, condition, key, "dynamodb:DeleteItem", Key=self._key(pk, sk))

    def query(self, pk: str, *, prefix: str | None, start: str | None, end: str | None,
              limit: int, cursor: str | None, descending: bool) -> Page:
        names = {"#pk": self.partition_key}
        values: dict[str, Any] = {":pk": {"S": pk}}
        expression = "#pk = :pk"
        if self.sort_key and (prefix or start is not None or end is not None):
            names["#sk"] = self.sort_key
            if prefix:
                expression += " AND begins_with(#sk, :prefix)"
                values[":prefix"] = {"S": prefix}
            elif start is not None and end is not None:
                if start > end:
                    return Page(items=[])
                expression += " AND #sk BETWEEN :start AND :end"
                values[":start"], values[":end"] = {"S": start}, {"S": end}
            elif start is not None:
                expression += " AND #sk >= :start"
                values[":start"] = {"S": start}
            else:
                expression += " AND #sk <= :end"
                values[":end"] = {"S": end}
        request: dict[str, Any] = {
            "TableName": self.name, "KeyConditionExpression": expression, "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values, "ScanIndexForward": not descending, "ConsistentRead": True,
        }
        if cursor:
            after = decode_cursor(cursor, pk, descending)
            if self.sort_key:
                request["ExclusiveStartKey"] = self._key(pk, after)
        # Ask for one more than a page so the cursor is None exactly when nothing follows; DynamoDB
        # may stop early at 1 MB, so keep reading until we have it or the partition ends.
        raw: list[dict[str, Any]] = []
        with _errors(self.link, "dynamodb:Query", self.name):
            while len(raw) <= limit:
                request["Limit"] = limit + 1 - len(raw)
                response = self.client.query(**request)
                raw += response.get("Items", [])
                if not response.get("LastEvaluatedKey"):
                    break
                request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        items = [self._item(r) for r in raw[:limit]]
        more = len(raw) > limit and bool(self.sort_key)
        return Page(items=items, cursor=encode_cursor(pk, items[-1][self.sort_key], descending) if more else None)


# -- SQS and SNS -------------------------------------------------------------------------


def _body_and_attributes(message: OutgoingMessage) -> tuple[str, dict[str, dict[str, str]]]:
    attributes = dict(message.attributes)
    try:
        body = message.body.decode("utf-8")
        if not _SQS_TEXT.match(body):
            raise ValueError("not SQS text")
    except ValueError:
        body = base64.b64encode(message.body).decode("ascii")
        attributes[BODY_ENCODING_ATTRIBUTE] = "base64"
    if message.dedup_id:
        attributes[DEDUP_ATTRIBUTE] = message.dedup_id
    if len(attributes) > MAX_ATTRIBUTES:
        raise ValueError(f"AWS messages carry at most {MAX_ATTRIBUTES} attributes (got {', '.join(sorted(attributes))}); "
                         "put the rest in the body")
    return body, {k: {"DataType": "String", "StringValue": str(v)} for k, v in attributes.items()}


def _entry_size(body: str, attributes: dict[str, dict[str, str]]) -> int:
    return len(body.encode()) + sum(len(k.encode()) + len(v["StringValue"].encode()) + 6 for k, v in attributes.items())


class SqsQueue:
    def __init__(self, link: Link):
        self.link = link
        self.url = link.require("url")
        self.client = client("sqs", _region(link, link.get("arn")))

    def send_batch(self, messages: list[OutgoingMessage]) -> list[str]:
        ids: list[str] = []
        batch: list[dict[str, Any]] = []
        size = 0
        for index, message in enumerate(messages):
            body, attributes = _body_and_attributes(message)
            entry_size = _entry_size(body, attributes)
            if batch and (len(batch) == SQS_BATCH_COUNT or size + entry_size > SQS_BATCH_BYTES):
                ids += self._send(batch)
                batch, size = [], 0
            entry: dict[str, Any] = {"Id": str(index), "MessageBody": body, "MessageAttributes": attributes}
            if message.delay_seconds:
                entry["DelaySeconds"] = int(message.delay_seconds)
            batch.append(entry)
            size += entry_size
        if batch:
            ids += self._send(batch)
        return ids

    def _send(self, entries: list[dict[str, Any]]) -> list[str]:
        with _errors(self.link, "sqs:SendMessage", self.url):
            response = self.client.send_message_batch(QueueUrl=self.url, Entries=entries)
        failed = response.get("Failed") or []
        if failed:  # the rest of this call (and earlier calls) went through: name exactly what did not
            reasons = "; ".join(f"message {f['Id']}: {f.get('Code', '')} {f.get('Message', '')}".strip()
                                for f in failed)
            raise RuntimeError(f"SQS refused {len(failed)} of {len(entries)} messages sent together to queue "
                               f"{self.link.logical!r} (the others were sent): {reasons}")
        by_id = {entry["Id"]: entry["MessageId"] for entry in response.get("Successful", [])}
        return [by_id[entry["Id"]] for entry in entries]


class SnsTopic:
    def __init__(self, link: Link):
        self.link = link
        self.arn = link.require("arn")
        self.client = client("sns", _region(link, self.arn))

    def publish(self, message: OutgoingMessage) -> str:
        body, attributes = _body_and_attributes(message)
        with _errors(self.link, "sns:Publish", self.arn):
            response = self.client.publish(TopicArn=self.arn, Message=body, MessageAttributes=attributes)
        return response["MessageId"]


# -- Secrets Manager ---------------------------------------------------------------------


class SecretsManagerSecret:
    def __init__(self, link: Link):
        self.link = link
        self.arn = link.require("arn")
        self.client = client("secretsmanager", _region(link, self.arn))

    def value(self) -> str:
        with _errors(self.link, "secretsmanager:GetSecretValue", self.arn):
            response = self.client.get_secret_value(SecretId=self.arn)
        if "SecretString" in response:
            return response["SecretString"]
        return bytes(response["SecretBinary"]).decode("utf-8")


# The distributions this backend imports, per link kind. The Lambda runtime provides boto3, so
# the bundler vendors none of them (omnicloud/bundle/vendor.py LAMBDA_PROVIDED); every call used
# here (DynamoDB conditional writes and Query, SQS SendMessageBatch, SNS Publish, Secrets Manager
# GetSecretValue) is older than the oldest boto3 the clean-room tests run these functions on
# (tests/bundle/cleanroom/lambda-runtime.txt).
SDKS = {"table": ("boto3",), "queue": ("boto3",), "topic": ("boto3",), "secret": ("boto3",)}

# The factories runtime.clients calls with a resolved Link (runtime/backends/base.py).
queue = SqsQueue
topic = SnsTopic
table = DynamoTable
secret = SecretsManagerSecret
