"""Per-cloud limits and capabilities: one data table, read by validation and by the providers.

Each limit says what the cloud allows and what to do instead, so a spec that asks for more
fails at `validate`/`preview` naming the cloud, the feature and the nearest alternative.
"""

from __future__ import annotations

from dataclasses import dataclass

CLOUDS = ("aws", "azure", "gcp")


@dataclass(frozen=True)
class CloudLimits:
    label: str
    function_service: str
    memory_min: int
    memory_max: int
    # Memory sizes the platform offers; a request in between is rounded up by the provider.
    memory_steps: tuple[int, ...] | None
    timeout_max: int  # seconds, non-HTTP triggers
    http_timeout_max: int  # seconds an HTTP request may take through the gateway
    http_timeout_why: str
    timeout_alternative: str
    # Longest `app-name` physical prefix for a function, after the provider's unique suffix.
    function_name_max: int
    function_name_rule: str
    queue_name_max: int
    queue_name_rule: str
    topic_name_max: int
    topic_name_rule: str
    table_name_max: int
    table_name_rule: str
    subscription_name_max: int
    subscription_name_rule: str
    max_retries_max: int
    max_retries_rule: str
    # Deliveries the cloud insists on at least (Pub/Sub dead-lettering needs 5).
    min_deliveries: int
    visibility_timeout_max: int
    visibility_rule: str
    batch_size_max: int
    batch_rule: str
    filter_max_length: int | None
    filter_rule: str
    schedule_rates: str  # "any" or "cron-only"


LIMITS: dict[str, CloudLimits] = {
    "aws": CloudLimits(
        label="AWS",
        function_service="Lambda",
        memory_min=128,
        memory_max=10240,
        memory_steps=None,
        timeout_max=900,
        http_timeout_max=30,
        http_timeout_why="API Gateway HTTP APIs end an integration after 30 seconds",
        timeout_alternative="move long work to a queue-triggered function (e.g. the worker)",
        function_name_max=56,
        function_name_rule="Lambda function names are at most 64 characters, 8 of which are the unique suffix",
        queue_name_max=72,
        queue_name_rule="SQS queue names are at most 80 characters, including the -dlq and unique suffixes",
        topic_name_max=240,
        topic_name_rule="SNS topic names are at most 256 characters",
        table_name_max=240,
        table_name_rule="DynamoDB table names are at most 255 characters",
        subscription_name_max=72,
        subscription_name_rule="SQS queue names (one per topic subscriber) are at most 80 characters",
        max_retries_max=999,
        max_retries_rule="SQS maxReceiveCount is at most 1000",
        min_deliveries=1,
        visibility_timeout_max=43200,
        visibility_rule="SQS visibility timeout is at most 12 hours",
        batch_size_max=10000,
        batch_rule="Lambda takes at most 10,000 SQS records per batch",
        filter_max_length=None,
        filter_rule="",
        schedule_rates="any",
    ),
    "azure": CloudLimits(
        label="Azure",
        function_service="Azure Functions (Flex Consumption)",
        memory_min=512,
        memory_max=4096,
        memory_steps=(512, 2048, 4096),
        timeout_max=14400,
        http_timeout_max=230,
        http_timeout_why="Azure's front end closes an HTTP request after 230 seconds",
        timeout_alternative="move long work to a queue-triggered function (e.g. the worker)",
        function_name_max=50,
        function_name_rule="Function App names are at most 60 characters and globally unique (a 10-character suffix is added)",
        queue_name_max=250,
        queue_name_rule="Service Bus queue names are at most 260 characters",
        topic_name_max=250,
        topic_name_rule="Service Bus topic names are at most 260 characters",
        table_name_max=55,
        table_name_rule="Storage table names are 3-63 letters and digits (hyphens are dropped, a suffix is added)",
        subscription_name_max=50,
        subscription_name_rule="Service Bus subscription names are at most 50 characters",
        max_retries_max=1999,
        max_retries_rule="Service Bus maxDeliveryCount is at most 2000",
        min_deliveries=1,
        visibility_timeout_max=43200,
        visibility_rule="",
        batch_size_max=1000,
        batch_rule="the Service Bus trigger takes at most 1,000 messages per batch",
        filter_max_length=1024,
        filter_rule="Service Bus SQL filters are at most 1,024 characters",
        schedule_rates="cron-only",
    ),
    "gcp": CloudLimits(
        label="Google Cloud",
        function_service="Cloud Functions (2nd gen)",
        memory_min=128,
        memory_max=32768,
        memory_steps=(128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768),
        timeout_max=540,
        http_timeout_max=3600,
        http_timeout_why="Cloud Functions (2nd gen) HTTP functions run at most 60 minutes",
        timeout_alternative="split the work into steps that each fit, chained through a queue",
        function_name_max=55,
        function_name_rule="Cloud Functions names are at most 63 characters, 8 of which are the unique suffix",
        queue_name_max=240,
        queue_name_rule="Pub/Sub topic names are at most 255 characters",
        topic_name_max=240,
        topic_name_rule="Pub/Sub topic names are at most 255 characters",
        table_name_max=1500,
        table_name_rule="Firestore collection ids are at most 1,500 bytes",
        subscription_name_max=240,
        subscription_name_rule="Pub/Sub subscription names are at most 255 characters",
        max_retries_max=99,
        max_retries_rule="Pub/Sub dead_letter_policy allows at most 100 delivery attempts",
        min_deliveries=5,
        visibility_timeout_max=600,
        visibility_rule="Pub/Sub ack deadlines are at most 600 seconds",
        batch_size_max=1,
        batch_rule="Pub/Sub push delivers one message per request",
        filter_max_length=256,
        filter_rule="Pub/Sub subscription filters are at most 256 bytes",
        schedule_rates="cron-only",
    ),
}


def round_memory(cloud: str, memory: int) -> int:
    """The memory size the cloud will really give for a request of `memory` MB."""
    steps = LIMITS[cloud].memory_steps
    if not steps:
        return memory
    for step in steps:
        if step >= memory:
            return step
    return steps[-1]


def deliveries(cloud: str, max_retries: int) -> int:
    """Delivery attempts before dead-lettering, as the cloud can be told (at least its minimum)."""
    return max(max_retries + 1, LIMITS[cloud].min_deliveries)
