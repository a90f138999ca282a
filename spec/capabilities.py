"""Per-cloud limits and capabilities: one data table, read by validation and by the providers.

Each limit says what the cloud allows and what to do instead, so a spec that asks for more
fails at `validate`/`preview` naming the cloud, the feature and the nearest alternative.
Physical names the checks assume (providers derive them; Pulumi auto-naming adds an 8-character
suffix `-xxxxxxx`): function `<app>-<function>`, queue `<app>-<queue>` (+ `-dlq`), topic
`<app>-<topic>`, table `<app>-<table>` (hyphens dropped on Azure Storage), topic subscription
`<function>` (Service Bus) / `<app>-<topic>-<function>` (Pub/Sub).
"""

from __future__ import annotations

from dataclasses import dataclass, field

CLOUDS = ("aws", "azure", "gcp")
AUTONAME_SUFFIX = 8  # Pulumi auto-naming appends "-" and 7 random characters


@dataclass(frozen=True)
class CloudLimits:
    label: str
    function_service: str
    memory_min: int
    memory_max: int
    # Memory sizes the platform offers; a request in between is rounded up by the provider.
    memory_steps: tuple[int, ...] | None
    # Longest run, in seconds, per trigger kind, and why (the cloud service that sets it).
    timeout_max_by_trigger: dict[str, int]
    timeout_why: dict[str, str]
    timeout_alternative: str
    # Longest `<app>-<function>`, after the provider's unique suffix.
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
    # Longest time a received message stays invisible/locked; longer requests are capped.
    visibility_timeout_max: int
    visibility_rule: str
    batch_size_max: int
    batch_rule: str
    filter_max_length: int | None
    filter_rule: str
    schedule_rates: str  # "any" (rate expressions) or "cron-only"
    schedule_service: str
    notes: dict[str, str] = field(default_factory=dict)
    # Concurrency settings (FunctionSpec.max_instances, .reserved_concurrency): the (lowest, highest)
    # value the cloud takes, or why it has no such setting (the value is then refused); and the
    # rule each range comes from.
    concurrency: dict[str, tuple[int, int] | str] = field(default_factory=dict)
    concurrency_rule: dict[str, str] = field(default_factory=dict)
    # Environment variable names the platform (or omnicloud's provider) sets itself: an app's
    # `env:` may not use them (exact names, then prefixes; Azure app settings ignore case).
    reserved_env: tuple[str, ...] = ()
    reserved_env_prefixes: tuple[str, ...] = ()
    reserved_env_ignore_case: bool = False

    def reserved_env_name(self, name: str) -> bool:
        """Whether `name` is an environment variable the cloud or the provider already sets."""
        fold = str.upper if self.reserved_env_ignore_case else (lambda text: text)
        return (fold(name) in {fold(n) for n in self.reserved_env}
                or any(fold(name).startswith(fold(p)) for p in self.reserved_env_prefixes))

    # Kept for callers that ask for one number: the longest non-HTTP run and the HTTP limit.
    @property
    def timeout_max(self) -> int:
        return max(v for k, v in self.timeout_max_by_trigger.items() if k != "http")

    @property
    def http_timeout_max(self) -> int:
        return self.timeout_max_by_trigger["http"]

    @property
    def http_timeout_why(self) -> str:
        return self.timeout_why["http"]


LIMITS: dict[str, CloudLimits] = {
    "aws": CloudLimits(
        label="AWS",
        function_service="Lambda",
        # Lambda quotas: memory 128 MB to 10,240 MB in 1 MB steps, timeout up to 900 seconds
        # (docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
        memory_min=128,
        memory_max=10240,
        memory_steps=None,
        timeout_max_by_trigger={"http": 30, "queue": 900, "topic": 900, "schedule": 900},
        timeout_why={
            # API Gateway HTTP APIs: maximum integration timeout 30 seconds, not raisable (the
            # 2024 increase applies to REST APIs only) (docs.aws.amazon.com/apigateway/latest/
            # developerguide/http-api-quotas.html).
            "http": "API Gateway HTTP APIs end an integration after 30 seconds",
            "queue": "Lambda runs a function at most 900 seconds",
            "topic": "Lambda runs a function at most 900 seconds",
            "schedule": "Lambda runs a function at most 900 seconds",
        },
        timeout_alternative="move long work to a queue-triggered function and answer the request at once",
        # Lambda function names: 1-64 characters.
        function_name_max=64 - AUTONAME_SUFFIX,
        function_name_rule="Lambda function names are at most 64 characters, 8 of which are the unique suffix",
        # SQS queue names: up to 80 characters; the dead-letter queue adds "-dlq".
        queue_name_max=80 - AUTONAME_SUFFIX - 4,
        queue_name_rule="SQS queue names are at most 80 characters, including the -dlq and unique suffixes",
        # SNS topic names: up to 256 characters.
        topic_name_max=256 - AUTONAME_SUFFIX,
        topic_name_rule="SNS topic names are at most 256 characters",
        # DynamoDB table names: 3-255 characters.
        table_name_max=255 - AUTONAME_SUFFIX,
        table_name_rule="DynamoDB table names are at most 255 characters",
        # Each topic subscriber gets an SQS queue `<app>-<topic>-<function>` (+ -dlq).
        subscription_name_max=80 - AUTONAME_SUFFIX - 4,
        subscription_name_rule="SQS queue names (one per topic subscriber) are at most 80 characters",
        # SQS redrive policy maxReceiveCount: 1 to 1,000.
        max_retries_max=999,
        max_retries_rule="SQS maxReceiveCount is at most 1,000",
        min_deliveries=1,
        # SQS VisibilityTimeout: 0 to 43,200 seconds (12 hours).
        visibility_timeout_max=43200,
        visibility_rule="the SQS visibility timeout is at most 12 hours",
        # Lambda SQS event source mapping: BatchSize up to 10,000 for standard queues (above 10
        # the provider must set MaximumBatchingWindowInSeconds >= 1).
        batch_size_max=10000,
        batch_rule="Lambda takes at most 10,000 SQS records per batch",
        # SNS filter policies: at most 5 attribute keys and 150 value combinations; size is not
        # the binding limit.
        filter_max_length=None,
        filter_rule="SNS filter policies match at most 5 attributes and 150 value combinations",
        # EventBridge Scheduler: rate(value unit) with minute(s)/hour(s)/day(s), or cron with
        # six fields and `?` in one of day-of-month/day-of-week
        # (docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html).
        schedule_rates="any",
        schedule_service="EventBridge Scheduler",
        # Lambda's reserved runtime variables "cannot be set in your function configuration"
        # (docs.aws.amazon.com/lambda/latest/dg/configuration-envvars-runtime.html).
        reserved_env=("_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
                      "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
                      "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
                      "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                      "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "TZ"),
        notes={"filter_keys_max": "5", "filter_combinations_max": "150"},
        # Reserved concurrency "sets both the maximum and minimum number of concurrent instances"
        # of a function, and provisioned concurrency (min_instances) cannot exceed it; Lambda has no
        # cap that does not also set capacity aside
        # (docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html). 0 stops the function.
        concurrency={
            "reserved_concurrency": (0, 10000),
            "max_instances": "Lambda caps a function only with reserved concurrency, which also sets that much"
                             " of the account's concurrency aside; set reserved_concurrency instead",
        },
        concurrency_rule={"reserved_concurrency": "Lambda reserved concurrency, at least the provisioned"
                                                  " concurrency that min_instances sets"},
    ),
    "azure": CloudLimits(
        label="Azure",
        function_service="Azure Functions (Flex Consumption)",
        # Flex Consumption instance memory: 512, 2,048 or 4,096 MB
        # (learn.microsoft.com/azure/azure-functions/flex-consumption-plan#instance-memory).
        memory_min=512,
        memory_max=4096,
        memory_steps=(512, 2048, 4096),
        timeout_max_by_trigger={"http": 230, "queue": 14400, "topic": 14400, "schedule": 14400},
        timeout_why={
            # "Regardless of the function app timeout setting, 230 seconds is the maximum amount
            # of time that an HTTP triggered function can take to respond" (Azure Load Balancer
            # idle timeout) (learn.microsoft.com/azure/azure-functions/functions-scale#timeout).
            "http": "Azure's front end ends an HTTP request after 230 seconds",
            # Flex Consumption: default 30 min, no enforced maximum, but a scale-in only grants
            # a 60-minute grace period; omnicloud caps functionTimeout at 4 hours.
            "queue": "omnicloud sets the Flex Consumption functionTimeout to at most 4 hours",
            "topic": "omnicloud sets the Flex Consumption functionTimeout to at most 4 hours",
            "schedule": "omnicloud sets the Flex Consumption functionTimeout to at most 4 hours",
        },
        timeout_alternative="move long work to a queue-triggered function and answer the request at once",
        # Microsoft.Web/sites names: 2-60 characters, globally unique.
        function_name_max=60 - 10,
        function_name_rule="Function App names are at most 60 characters and globally unique (a 10-character suffix is added)",
        # Service Bus queue and topic names: up to 260 characters.
        queue_name_max=260 - AUTONAME_SUFFIX,
        queue_name_rule="Service Bus queue names are at most 260 characters",
        topic_name_max=260 - AUTONAME_SUFFIX,
        topic_name_rule="Service Bus topic names are at most 260 characters",
        # Storage table names: 3-63 letters and digits, starting with a letter
        # (learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model).
        table_name_max=63 - AUTONAME_SUFFIX,
        table_name_rule="Storage table names are 3-63 letters and digits (hyphens are dropped, an 8-character suffix is added)",
        # Service Bus subscription names: at most 50 characters (CreateSubscriptionOptions).
        subscription_name_max=50,
        subscription_name_rule="Service Bus subscription names (one per subscriber function) are at most 50 characters",
        # maxDeliveryCount: minimum 1, default 10, no documented maximum; the spec caps retries at 100.
        max_retries_max=100,
        max_retries_rule="the spec caps max_retries at 100",
        min_deliveries=1,
        # Service Bus LockDuration: at most 5 minutes; the Functions host renews the lock while a
        # handler runs (maxAutoLockRenewalDuration), so a longer visibility_timeout is capped.
        visibility_timeout_max=300,
        visibility_rule="a Service Bus message lock lasts at most 5 minutes; the Functions host renews it while the handler runs",
        # Service Bus trigger maxMessageBatchSize: default 1,000.
        batch_size_max=1000,
        batch_rule="the Service Bus trigger takes at most 1,000 messages per batch",
        # Service Bus quotas: SQL filter condition string at most 1,024 characters.
        filter_max_length=1024,
        filter_rule="Service Bus SQL filters are at most 1,024 characters",
        # Timer trigger: NCRONTAB with seconds, `{second} {minute} {hour} {day} {month} {day-of-week}`,
        # day-of-week 0-6; TimeSpan schedules need an App Service plan, so no rates on Flex Consumption.
        schedule_rates="cron-only",
        schedule_service="the Azure Functions timer trigger (NCRONTAB)",
        # App settings the provider sets for identity, storage, telemetry and the trigger (a
        # same-named env entry would be overwritten), and the ones Flex Consumption rejects.
        reserved_env=("AZURE_CLIENT_ID", "APPLICATIONINSIGHTS_CONNECTION_STRING", "AzureWebJobsStorage",
                      "FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION"),
        reserved_env_prefixes=("AzureWebJobs", "AzureFunctionsJobHost__", "AzureFunctionsWebHost__",
                               "ServiceBusConnection__", "WEBSITE_"),
        reserved_env_ignore_case=True,
        # Flex Consumption scales each app out to its maximumInstanceCount; "the lowest maximum
        # scale ... is 40. The highest currently supported value is 1000" (learn.microsoft.com/
        # azure/azure-functions/flex-consumption-plan#considerations). It has no per-app reservation.
        concurrency={
            "max_instances": (40, 1000),
            "reserved_concurrency": "Flex Consumption cannot set capacity aside for one app; cap it with"
                                    " max_instances and keep instances warm with min_instances",
        },
        concurrency_rule={"max_instances": "Flex Consumption maximumInstanceCount, at least its always-ready"
                                           " instances"},
    ),
    "gcp": CloudLimits(
        label="Google Cloud",
        function_service="Cloud Functions (2nd gen)",
        # Cloud Run functions memory: 128 MiB to 32 GiB, in these tiers.
        memory_min=128,
        memory_max=32768,
        memory_steps=(128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768),
        timeout_max_by_trigger={"http": 3600, "queue": 600, "topic": 600, "schedule": 1800},
        timeout_why={
            # 2nd gen: "60 minutes (3600 seconds) for HTTP functions and 9 minutes (540 seconds)
            # for event-driven functions" (cloud.google.com/functions/docs/configuring/timeout);
            # API Gateway backend deadline: default 15 s, at most 3,600 s (provider sets it).
            "http": "Cloud Functions (2nd gen) HTTP functions run at most 60 minutes",
            # Queue and topic consumers are push subscriptions: Pub/Sub ackDeadlineSeconds is at
            # most 600, after which the message is redelivered.
            "queue": "Pub/Sub push redelivers a message after the ack deadline, at most 600 seconds",
            "topic": "Pub/Sub push redelivers a message after the ack deadline, at most 600 seconds",
            # Cloud Scheduler attemptDeadline for HTTP targets: 15 seconds to 30 minutes.
            "schedule": "Cloud Scheduler waits at most 30 minutes for an HTTP target",
        },
        timeout_alternative="split the work into steps that each fit, chained through a queue",
        # Cloud Functions names: at most 63 characters, lowercase letters, digits, hyphens.
        function_name_max=63 - AUTONAME_SUFFIX,
        function_name_rule="Cloud Functions names are at most 63 characters, 8 of which are the unique suffix",
        # Pub/Sub topic and subscription names: 3-255 characters, start with a letter, not "goog".
        queue_name_max=255 - AUTONAME_SUFFIX - 4,
        queue_name_rule="Pub/Sub topic names are at most 255 characters",
        topic_name_max=255 - AUTONAME_SUFFIX,
        topic_name_rule="Pub/Sub topic names are at most 255 characters",
        # Firestore collection ids: at most 1,500 bytes.
        table_name_max=1500 - AUTONAME_SUFFIX,
        table_name_rule="Firestore collection ids are at most 1,500 bytes",
        subscription_name_max=255 - AUTONAME_SUFFIX,
        subscription_name_rule="Pub/Sub subscription names are at most 255 characters",
        # DeadLetterPolicy.max_delivery_attempts: "must be between 5 and 100".
        max_retries_max=99,
        max_retries_rule="Pub/Sub dead_letter_policy allows at most 100 delivery attempts",
        min_deliveries=5,
        # Subscription ackDeadlineSeconds: 10 to 600.
        visibility_timeout_max=600,
        visibility_rule="Pub/Sub ack deadlines are at most 600 seconds",
        batch_size_max=1,
        batch_rule="Pub/Sub push delivers one message per request",
        # Subscription filter: "The maximum length of a filter is 256 bytes."
        filter_max_length=256,
        filter_rule="Pub/Sub subscription filters are at most 256 bytes",
        # Cloud Scheduler: unix-cron, 5 fields, day-of-week 0-6 or SUN-SAT (7 is Sunday too).
        schedule_rates="cron-only",
        schedule_service="Cloud Scheduler (unix cron)",
        # Cloud Run functions reserve these and the X_GOOGLE_ prefix
        # (cloud.google.com/run/docs/configuring/services/overview-environment-variables).
        reserved_env=("PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION", "FUNCTION_TARGET",
                      "FUNCTION_SIGNATURE_TYPE"),
        reserved_env_prefixes=("X_GOOGLE_",),
        # Cloud Functions (2nd gen) serviceConfig.maxInstanceCount caps the instances; the minimum
        # may not exceed it (cloud.google.com/functions/docs/configuring/max-instances,
        # cloud.google.com/functions/docs/configuring/min-instances). Nothing reserves capacity.
        concurrency={
            "max_instances": (1, 1000),
            "reserved_concurrency": "Cloud Functions cannot set capacity aside for one function; cap it with"
                                    " max_instances and keep instances warm with min_instances",
        },
        concurrency_rule={"max_instances": "Cloud Functions maxInstanceCount, at least min_instances"},
    ),
}


# Lambda: "4 KB, for all environment variables associated with the function, in aggregate"
# (docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). Lambda measures the variables
# as one compact JSON object: its refusal quotes the "String measured: {"NAME":"value",...}"
# (github.com/github-aws-runners/terraform-aws-github-runner/issues/3594).
AWS_ENV_BYTES_MAX = 4096
# The backend properties of an AWS link, per built-in kind (providers/aws/<kind>.py sends exactly
# these; tests/providers/test_aws.py checks the estimate covers what they send).
AWS_LINK_KEYS: dict[str, tuple[str, ...]] = {
    # The ARN too: the backend takes the region from it when AWS_REGION is not set.
    "table": ("name", "partition_key", "sort_key", "ttl", "arn"),
    "queue": ("url", "arn"),
    "topic": ("arn",),
    "secret": ("arn",),
}
# Stand-ins for what is only known at deploy time, each as long as the real thing can be: the
# longest region names (ap-northeast-3, ap-southeast-5) and a 12-digit account id.
_AWS_REGION, _AWS_ACCOUNT = "ap-southeast-5", "123456789012"


def aws_link_estimate(app: str, kind: str, logical: str, keys: dict[str, str | None]) -> dict[str, str | None]:
    """The AWS link properties of `logical` with deploy-time values stood in for (a physical
    name `<app>-<logical>` plus Pulumi's suffix; Secrets Manager adds 7 characters of its own)."""
    physical = f"{app}-{logical}" + "-" + "x" * (AUTONAME_SUFFIX - 1)
    where = f"{_AWS_REGION}:{_AWS_ACCOUNT}"
    values: dict[str, str | None] = {
        "table": {"name": physical, "arn": f"arn:aws:dynamodb:{where}:table/{physical}", **keys},
        "queue": {"url": f"https://sqs.{_AWS_REGION}.amazonaws.com/{_AWS_ACCOUNT}/{physical}",
                  "arn": f"arn:aws:sqs:{where}:{physical}"},
        "topic": {"arn": f"arn:aws:sns:{where}:{physical}"},
        "secret": {"arn": f"arn:aws:secretsmanager:{where}:secret:{physical}-xxxxxx"},
    }[kind]
    return {key: values.get(key) for key in AWS_LINK_KEYS[kind]}


def round_memory(cloud: str, memory: int) -> int:
    """The memory size the cloud will really give for a request of `memory` MB."""
    lim = LIMITS[cloud]
    memory = max(memory, lim.memory_min)
    steps = lim.memory_steps
    if not steps:
        return memory
    for step in steps:
        if step >= memory:
            return step
    return steps[-1]


def deliveries(cloud: str, max_retries: int) -> int:
    """Delivery attempts before dead-lettering, as the cloud can be told (at least its minimum)."""
    return max(max_retries + 1, LIMITS[cloud].min_deliveries)


def timeout_limit(cloud: str, trigger: str) -> tuple[int, str]:
    """Longest run a function with `trigger` may ask for on `cloud`, and the reason."""
    lim = LIMITS[cloud]
    return lim.timeout_max_by_trigger[trigger], lim.timeout_why[trigger]


@dataclass(frozen=True)
class TagRules:
    """What one cloud accepts as a tag (Google Cloud: a label), for a stack's `omnicloud:tags`."""

    what: str  # "an AWS tag", "an Azure tag", "a Google Cloud label"
    key_max: int
    value_max: int
    count_max: int  # per resource, omnicloud's own tags included
    key_pattern: str
    value_pattern: str
    allowed: str  # the characters, in words
    reserved_prefix: str | None
    source: str


TAG_RULES: dict[str, TagRules] = {
    # "Maximum number of tags per resource - 50; maximum key length - 128 Unicode characters; maximum
    # value length - 256; allowed characters are letters, numbers, spaces representable in UTF-8,
    # and + - = . _ : / @; don't use aws: as a prefix for either keys or values"
    # (docs.aws.amazon.com/batch/latest/userguide/tag-restrictions.html, the same on every service).
    "aws": TagRules("an AWS tag", 128, 256, 50, r"[\w .:/=+\-@]+", r"[\w .:/=+\-@]*",
                    "letters, digits, spaces and _ . : / = + - @", "aws:",
                    "docs.aws.amazon.com/batch/latest/userguide/tag-restrictions.html"),
    # "Each resource ... can have a maximum of 50 tag name-value pairs ... For storage accounts, the
    # tag name has a limit of 128 characters and the tag value has a limit of 256 characters. Tag
    # names can't contain these characters: <, >, %, &, \, ?, /"
    # (learn.microsoft.com/azure/azure-resource-manager/management/tag-resources#limitations).
    "azure": TagRules("an Azure tag", 128, 256, 50, r"[^<>%&\\?/]+", r".*",
                      "anything but < > % & \\ ? / in the name", None,
                      "learn.microsoft.com/azure/azure-resource-manager/management/tag-resources#limitations"),
    # Labels: at most 64 per resource; keys and values at most 63 characters of lowercase letters,
    # digits, underscores and dashes; keys start with a lowercase letter and are never empty
    # (cloud.google.com/resource-manager/docs/labels-overview#requirements).
    "gcp": TagRules("a Google Cloud label", 63, 63, 64, r"[a-z][a-z0-9_-]*", r"[a-z0-9_-]*",
                    "lowercase letters, digits, _ and - (a key starts with a letter)", None,
                    "cloud.google.com/resource-manager/docs/labels-overview#requirements"),
}


def tag_problem(cloud: str, key: str, value: str) -> str | None:
    """Why `key: value` cannot be a tag (label) on `cloud`, with what to do; None when it can."""
    import re

    rules = TAG_RULES[cloud]
    if not key:
        return f"{rules.what} needs a key; name it"
    if len(key) > rules.key_max:
        return (f"key {key!r} is {len(key)} characters, over the {rules.key_max} of {rules.what} key"
                f" ({rules.source}); shorten it")
    if len(value) > rules.value_max:
        return (f"value of {key!r} is {len(value)} characters, over the {rules.value_max} of {rules.what} value"
                f" ({rules.source}); shorten it")
    for part, text, pattern in (("key", key, rules.key_pattern), ("value", value, rules.value_pattern)):
        if not re.fullmatch(pattern, text):
            hint = f"; write {text.lower()!r}" if cloud == "gcp" and re.fullmatch(pattern, text.lower()) else ""
            return f"{part} {text!r} cannot be {rules.what} {part}: use {rules.allowed} ({rules.source}){hint}"
        if rules.reserved_prefix and text.lower().startswith(rules.reserved_prefix):
            return (f"{part} {text!r} starts with {rules.reserved_prefix!r}, reserved for the cloud's own tags"
                    f" ({rules.source}); rename it")
    return None
