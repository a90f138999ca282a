"""Google Cloud: Cloud Functions (2nd gen), Pub/Sub, Firestore, Secret Manager, Cloud Scheduler and
API Gateway, with one service account per function and resource-level IAM for every link."""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import inspect
import json
import re
from typing import Any

import pulumi
import pulumi_gcp as gcp

from spec.capabilities import deliveries, round_memory
from spec.filters import pubsub_filter
from spec.model import QueueSpec, SecretSpec, TableSpec, TopicSpec
from spec.schedule import Schedule

from .base import Built, DeployContext, FunctionRequest, LinkTarget

RUNTIME = "python312"
ENTRY_POINT = "handle"  # the bundler's main.py exposes `handle`
HTTP_METHODS = ("get", "post", "put", "patch", "delete", "options", "head")
# Pub/Sub push: an ack deadline between 10 s and 600 s; retry backoff between 10 s and 600 s.
ACK_DEADLINE_MIN, ACK_DEADLINE_MAX = 10, 600
DEAD_LETTER_RETENTION = "604800s"  # 7 days, the longest Pub/Sub keeps a message
# Topic subscribers have no queue settings of their own: they retry like a default queue.
SUBSCRIBER_DEFAULTS = QueueSpec()


# The APIs (service names without .googleapis.com) a resource of each pulumi_gcp module needs
# enabled first. Each resource waits for its own APIs only, not for every API of the app.
API_OF_MODULE: dict[str, tuple[str, ...]] = {
    "serviceaccount": ("iam",),
    "storage": ("storage",),
    "cloudfunctionsv2": ("cloudfunctions", "run", "cloudbuild", "artifactregistry", "storage"),
    "cloudrunv2": ("run",),
    "pubsub": ("pubsub",),
    "firestore": ("firestore",),
    "secretmanager": ("secretmanager",),
    "cloudscheduler": ("cloudscheduler",),
    "apigateway": ("apigateway", "servicemanagement", "servicecontrol"),
    "artifactregistry": ("artifactregistry",),
}
# projects/* resources by type: the API switches themselves need nothing.
API_OF_TYPE: dict[str, tuple[str, ...]] = {
    "gcp:projects/service:Service": (),
    "gcp:projects/serviceIdentity:ServiceIdentity": ("pubsub",),
    # Project-level bindings (conditional ones included) read and write the project's policy through
    # the Resource Manager API (projects.getIamPolicy/setIamPolicy, cloud.google.com/resource-manager/
    # reference/rest/v1/projects/setIamPolicy); while cloudresourcemanager.googleapis.com is off they
    # fail with "Cloud Resource Manager API has not been used in project ... or it is disabled"
    # (github.com/terraform-google-modules/terraform-google-project-factory/issues/717).
    "gcp:projects/iAMMember:IAMMember": ("iam", "cloudresourcemanager"),
}


def api_dependencies(type_: str) -> tuple[str, ...] | None:
    """The APIs a resource type waits for; None (wait for every API) for a type not listed."""
    if type_ in API_OF_TYPE:
        return API_OF_TYPE[type_]
    return API_OF_MODULE.get(type_.split(":")[1].split("/")[0])


class GcpConfigError(pulumi.RunError, ValueError):
    """A missing or unusable `gcp:*` stack setting; the message is one line."""


class GcpProvider:
    """Maps the neutral components onto Google Cloud (see DESIGN.md "Mapping").

    Explicit physical names are used only where Google requires one (service account ids, the
    API Gateway api/gateway ids); everything else is auto-named by Pulumi from `<app>-<name>`.
    One Google Cloud project per stack is assumed, as Pulumi.<stack>.yaml sets `gcp:project`.
    """

    cloud = "gcp"

    def __init__(self, ctx: DeployContext) -> None:
        self.ctx = ctx
        config = pulumi.Config("gcp")
        project = config.get("project")
        if not project:
            raise GcpConfigError(
                f"Pulumi.{ctx.stack}.yaml: gcp:project is not set; run `pulumi config set gcp:project <project-id>`")
        self.project: str = project
        self.region: str = config.get("region") or "us-central1"
        self.prefix = ctx.app.name
        self._apis: dict[str, pulumi.Resource] = {}
        self._labels: dict[str, str] | None = None
        self._bucket: gcp.storage.Bucket | None = None
        self._pubsub_agent: gcp.projects.ServiceIdentity | None = None
        self._build: dict[str, pulumi.Output[str]] = {}
        self._build_grants: list[pulumi.Resource] = []

    # -- options and names ------------------------------------------------------------------

    def _opts(self, parent: pulumi.Resource, after: list[pulumi.Resource] | None = None,
              **extra: Any) -> pulumi.ResourceOptions:
        """Children wait for `after` (and, see `transformation`, for the APIs their type needs)."""
        return pulumi.ResourceOptions(parent=parent, depends_on=after, **extra)

    def _stateful(self, parent: pulumi.Resource, after: list[pulumi.Resource] | None = None,
                  **extra: Any) -> pulumi.ResourceOptions:
        """Data-holding children: prod protects them and keeps them on delete."""
        return self.ctx.stateful_options(parent, depends_on=after, **extra)

    def _name(self, *parts: str) -> str:
        return "-".join((self.prefix, *parts))

    def account_id(self, logical: str, role: str) -> str:
        """A service account id (6-30 chars, [a-z][a-z0-9-]*[a-z0-9]) for `role` of `logical`:
        readable when it fits, else shortened with a hash of the full name so it stays unique."""
        readable = _slug(f"{self.prefix}-{logical}")
        suffix = f"-{role}"
        if len(readable) + len(suffix) <= 30:
            return readable + suffix
        digest = hashlib.sha256(readable.encode()).hexdigest()[:4]
        head = readable[: 30 - len(suffix) - 5].rstrip("-")
        return f"{head}-{digest}{suffix}"

    def _service_account(self, parent: pulumi.Resource, logical: str, role: str, what: str) -> gcp.serviceaccount.Account:
        account_id = self.account_id(logical, role)
        return gcp.serviceaccount.Account(
            self._name(logical, role),
            account_id=account_id,
            display_name=f"{self.prefix} {logical}: {what}"[:100],
            # Google demands an explicit id; replace by deleting first so the id can be reused.
            opts=self._opts(parent, delete_before_replace=True),
        )

    @staticmethod
    def _member(account: gcp.serviceaccount.Account) -> pulumi.Output[str]:
        return account.email.apply(lambda email: f"serviceAccount:{email}")

    def _invoker(self, parent: pulumi.Resource, name: str, function: Built, member: pulumi.Input[str],
                 ) -> gcp.cloudrunv2.ServiceIamMember:
        # A 2nd gen function is served by the Cloud Run service of the same name; run.invoker must be
        # granted there (the cloudfunctionsv2 IAM resource rejects roles/run.invoker).
        return gcp.cloudrunv2.ServiceIamMember(
            name,
            name=function.refs["function"].name,
            location=self.region,
            role="roles/run.invoker",
            member=member,
            opts=self._opts(parent),
        )

    # -- app-wide ---------------------------------------------------------------------------

    def setup(self, parent: pulumi.ComponentResource) -> None:
        app = self.ctx.app
        services = ["iam.googleapis.com", "cloudresourcemanager.googleapis.com", "storage.googleapis.com",
                    "cloudfunctions.googleapis.com", "run.googleapis.com", "cloudbuild.googleapis.com",
                    "artifactregistry.googleapis.com"]
        if app.queues or app.topics:
            services.append("pubsub.googleapis.com")
        if app.tables:
            services.append("firestore.googleapis.com")
        if app.secrets:
            services.append("secretmanager.googleapis.com")
        if any(fn.schedule for fn in app.functions.values()):
            services.append("cloudscheduler.googleapis.com")
        if any(fn.http for fn in app.functions.values()):
            services += ["apigateway.googleapis.com", "servicemanagement.googleapis.com",
                         "servicecontrol.googleapis.com"]
        for service in services:
            # Other apps in the project may use the same APIs: never switch them off on destroy.
            self._apis[service.split(".")[0]] = gcp.projects.Service(
                self._name(service.split(".")[0]), service=service, disable_on_destroy=False,
                opts=pulumi.ResourceOptions(parent=parent))
        self._bucket = gcp.storage.Bucket(
            self._name("source"),
            location=self.region,
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            force_destroy=not self.ctx.prod,
            opts=self._opts(parent),
        )
        if app.queues or app.topics:
            # The Pub/Sub service agent forwards undeliverable messages to dead-letter topics.
            self._pubsub_agent = gcp.projects.ServiceIdentity(
                self._name("pubsub-agent"), service="pubsub.googleapis.com", opts=self._opts(parent))
        self._setup_build(parent)

    def _setup_build(self, parent: pulumi.ComponentResource) -> None:
        """The account Cloud Build builds the functions as, and the repository their images go to.

        Projects created since July 2024 build as a default account that may lack the permissions
        a build needs, so every function names its build account (build_config.service_account)
        with exactly the roles Google lists for one: roles/logging.logWriter (build logs),
        roles/artifactregistry.writer (the image) and roles/storage.objectViewer (the source)
        (cloud.google.com/functions/docs/securing/build-custom-sa). Images go to this app's own
        repository (build_config.docker_repository), so the writer role is granted on it alone and
        not on the project-wide gcf-artifacts; the source viewer role is on the source bucket alone.
        Cloud Logging has nothing narrower than the project to write build logs to.
        """
        assert self._bucket is not None
        account = self._service_account(parent, "functions", "build", "Cloud Build builds the functions")
        member = self._member(account)
        repository = gcp.artifactregistry.Repository(
            self._name("functions"),
            repository_id=_fit(_slug(self._name("functions")), 63),
            location=self.region,
            format="DOCKER",
            description=f"{self.prefix}: images Cloud Build makes of the functions",
            # An explicit id: delete before replacing so the id can be reused.
            opts=self._opts(parent, delete_before_replace=True),
        )
        grants = [
            gcp.artifactregistry.RepositoryIamMember(
                self._name("build-images"), repository=repository.name, location=self.region,
                role="roles/artifactregistry.writer", member=member, opts=self._opts(parent)),
            gcp.storage.BucketIAMMember(
                self._name("build-source"), bucket=self._bucket.name, role="roles/storage.objectViewer",
                member=member, opts=self._opts(parent)),
            gcp.projects.IAMMember(
                self._name("build-logs"), project=self.project, role="roles/logging.logWriter", member=member,
                opts=self._opts(parent)),
        ]
        self._build = {"service_account": account.id, "docker_repository": repository.id}
        self._build_grants: list[pulumi.Resource] = grants

    def transformation(self, args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        """Stack labels on every Google Cloud resource that takes `labels`, the stack's project on
        every one that takes `project` (the same project the links and IAM conditions name), and a
        dependency on exactly the APIs the resource's type needs (see API_OF_MODULE)."""
        if not args.type_.startswith("gcp:") or not isinstance(args.props, dict):
            return None
        inputs = _input_names(type(args.resource))
        props = dict(args.props)
        if "project" in inputs and props.get("project") is None:
            props["project"] = self.project
        if "labels" in inputs:
            stack_labels = self._stack_labels()
            own = props.get("labels")
            if isinstance(own, pulumi.Output):
                props["labels"] = own.apply(lambda value: {**stack_labels, **(value or {})})
            else:
                props["labels"] = {**stack_labels, **(own or {})}
        opts = args.opts
        needed = api_dependencies(args.type_)
        apis = list(self._apis.values()) if needed is None else [self._apis[a] for a in needed if a in self._apis]
        if apis:
            opts = copy.copy(opts)
            opts.depends_on = [*apis, *_as_list(opts.depends_on)]
        return pulumi.ResourceTransformationResult(props=props, opts=opts)

    def _stack_labels(self) -> dict[str, str]:
        if self._labels is None:
            self._labels = {_label(k): _label(v) for k, v in self.ctx.tags().items()}
        return self._labels

    # -- data -------------------------------------------------------------------------------

    def table(self, parent: pulumi.ComponentResource, logical: str, spec: TableSpec) -> Built:
        prod = self.ctx.prod
        # One named Firestore database per table, the table being one collection in it: that gives
        # each table its own point-in-time recovery and delete protection, and lets a link's grant
        # be conditioned to this database (Firestore has no IAM below the database).
        database = gcp.firestore.Database(
            _fit(self._name(logical), 55),  # Pulumi adds an 8-character suffix; ids are at most 63
            location_id=self.region,
            type="FIRESTORE_NATIVE",
            app_engine_integration_mode="DISABLED",
            point_in_time_recovery_enablement="POINT_IN_TIME_RECOVERY_ENABLED" if prod
            else "POINT_IN_TIME_RECOVERY_DISABLED",
            delete_protection_state="DELETE_PROTECTION_ENABLED" if prod else "DELETE_PROTECTION_DISABLED",
            # The provider abandons databases on delete unless told otherwise: dev really deletes.
            deletion_policy="ABANDON" if prod else "DELETE",
            opts=self._stateful(parent),
        )
        if spec.sort_key:
            # Equality on the partition key ordered by the sort key needs a composite index per direction.
            for order in ("ASCENDING", "DESCENDING"):
                gcp.firestore.Index(
                    f"{self._name(logical)}-{order.lower()}",
                    database=database.name,
                    collection=logical,
                    query_scope="COLLECTION",
                    fields=[{"field_path": spec.partition_key, "order": "ASCENDING"},
                            {"field_path": spec.sort_key, "order": order}],
                    opts=self._opts(parent),
                )
        if spec.ttl:
            gcp.firestore.Field(
                f"{self._name(logical)}-ttl",
                database=database.name,
                collection=logical,
                # Firestore TTL reads a timestamp; the runtime writes one beside the neutral
                # epoch-seconds attribute (runtime/backends/gcp.py EXPIRES_FIELD).
                field="omnicloud_expires",
                ttl_config={},
                opts=self._opts(parent),
            )
        return Built(name=database.name, native=database,
                     refs={"kind": "table", "database": database, "collection": logical, "spec": spec})

    # Prod protection (protect + retain_on_delete) is for what holds data: Firestore databases,
    # secrets, a queue's backlog and dead letters. Topics hold no messages here (no topic retention
    # is set); a subscription's backlog does ("Message retention duration", cloud.google.com/pubsub/
    # docs/subscription-properties). A topic subscriber's push subscription
    # is plumbing derived from app.yaml: protected, a changed filter (which replaces it) could not be
    # deployed, and retained, a removed subscriber's would go on pushing to a deleted function.

    def queue(self, parent: pulumi.ComponentResource, logical: str, spec: QueueSpec) -> Built:
        topic = gcp.pubsub.Topic(self._name(logical), opts=self._opts(parent))
        dead_letter = self._dead_letter(parent, self._name(logical, "dlq"))
        if not self.ctx.app.consumers_of_queue(logical):
            # A topic without subscriptions drops what is published: keep messages until a consumer comes.
            gcp.pubsub.Subscription(
                self._name(logical),
                topic=topic.id,
                ack_deadline_seconds=_ack_deadline(spec.visibility_timeout),
                message_retention_duration=f"{spec.retention}s",
                expiration_policy={"ttl": ""},
                opts=self._stateful(parent),
            )
        return Built(name=topic.name, native=topic,
                     refs={"kind": "queue", "topic": topic, "dead_letter": dead_letter, "spec": spec})

    def topic(self, parent: pulumi.ComponentResource, logical: str, spec: TopicSpec) -> Built:
        topic = gcp.pubsub.Topic(self._name(logical), opts=self._opts(parent))
        return Built(name=topic.name, native=topic, refs={"kind": "topic", "topic": topic})

    def _dead_letter(self, parent: pulumi.Resource, name: str) -> gcp.pubsub.Topic:
        """A dead-letter topic the Pub/Sub service agent may publish to, with a pull subscription
        so dead letters are kept (a topic alone keeps nothing); that subscription holds data."""
        topic = gcp.pubsub.Topic(name, opts=self._opts(parent))
        gcp.pubsub.Subscription(
            name,
            topic=topic.id,
            message_retention_duration=DEAD_LETTER_RETENTION,
            ack_deadline_seconds=60,
            expiration_policy={"ttl": ""},
            opts=self._stateful(parent),
        )
        assert self._pubsub_agent is not None
        gcp.pubsub.TopicIAMMember(
            f"{name}-agent-publisher",
            topic=topic.id,
            role="roles/pubsub.publisher",
            member=self._pubsub_agent.member,
            opts=self._opts(parent),
        )
        return topic

    def secret(self, parent: pulumi.ComponentResource, logical: str, spec: SecretSpec) -> Built:
        secret = gcp.secretmanager.Secret(
            self._name(logical),
            replication={"auto": {}},
            annotations={"description": spec.description} if spec.description else None,
            deletion_protection=self.ctx.prod,
            opts=self._stateful(parent),
        )
        value = pulumi.Config().get_secret(logical)
        if value is not None:
            gcp.secretmanager.SecretVersion(
                self._name(logical), secret=secret.id, secret_data=value, opts=self._stateful(parent))
        return Built(name=secret.secret_id, native=secret, refs={"kind": "secret", "secret": secret})

    # -- links --------------------------------------------------------------------------------

    def _topic_path(self, topic: gcp.pubsub.Topic) -> pulumi.Output[str]:
        return pulumi.Output.concat("projects/", self.project, "/topics/", topic.name)

    def _database_path(self, database: gcp.firestore.Database) -> pulumi.Output[str]:
        return pulumi.Output.concat("projects/", self.project, "/databases/", database.name)

    def link_properties(self, target: LinkTarget) -> dict[str, pulumi.Input[Any]]:
        refs = target.built.refs
        if target.kind == "table":
            spec: TableSpec = refs["spec"]
            return {"project": self.project, "database": refs["database"].name, "collection": refs["collection"],
                    "partition_key": spec.partition_key, "sort_key": spec.sort_key, "ttl": spec.ttl}
        if target.kind in ("queue", "topic"):
            return {"topic": self._topic_path(refs["topic"])}
        if target.kind == "secret":
            return {"name": pulumi.Output.concat("projects/", self.project, "/secrets/", refs["secret"].secret_id)}
        raise ValueError(f"gcp: cannot link a {target.kind}")

    def grant(self, parent: pulumi.ComponentResource, function: Built, target: LinkTarget) -> list[pulumi.Resource]:
        refs = target.built.refs
        member = function.refs["member"]
        name = f"{function.refs['logical']}-{target.logical}"
        if target.kind in ("queue", "topic"):
            return [gcp.pubsub.TopicIAMMember(
                f"{name}-publisher", topic=refs["topic"].id, role="roles/pubsub.publisher", member=member,
                opts=self._opts(parent))]
        if target.kind == "secret":
            return [gcp.secretmanager.SecretIamMember(
                f"{name}-accessor", secret_id=refs["secret"].id, role="roles/secretmanager.secretAccessor",
                member=member, opts=self._opts(parent))]
        if target.kind == "table":
            # Firestore has no per-collection (or per-document) IAM, and its roles can only be granted
            # on the project: the binding is project-level, conditioned to this table's database.
            # datastore.user already includes reading; Firestore has no write-only role.
            role = "roles/datastore.user" if "write" in target.verbs else "roles/datastore.viewer"
            path = self._database_path(refs["database"])
            condition = path.apply(lambda p: {
                "title": f"only database {p.rsplit('/', 1)[-1]}"[:100],
                "description": f"{function.refs['logical']} may {'/'.join(target.verbs)} table {target.logical}",
                "expression": f'resource.name == "{p}" || resource.name.startsWith("{p}/")',
            })
            return [gcp.projects.IAMMember(
                f"{name}-{role.rsplit('.', 1)[-1]}", project=self.project, role=role, member=member,
                condition=condition, opts=self._opts(parent))]
        raise ValueError(f"gcp: cannot grant on a {target.kind}")

    # -- compute ------------------------------------------------------------------------------

    def function(self, parent: pulumi.ComponentResource, request: FunctionRequest,
                 env: dict[str, pulumi.Input[str]]) -> Built:
        logical, spec = request.logical, request.spec
        account = self._service_account(parent, logical, "fn", "runs the function")
        build: dict[str, Any] = {"runtime": RUNTIME, "entry_point": ENTRY_POINT, **self._build}
        if request.artifact is not None:
            assert self._bucket is not None
            # The object name carries the code's hash, so new code means a new object and a redeploy.
            source = gcp.storage.BucketObject(
                self._name(logical, "source"),
                bucket=self._bucket.name,
                name=f"{logical}/{request.artifact.sha256}.zip",
                source=pulumi.FileAsset(str(request.artifact.path)),
                opts=self._opts(parent),
            )
            build["source"] = {"storage_source": {"bucket": self._bucket.name, "object": source.name}}
        # Only the gateway reaches HTTP functions from outside; Pub/Sub push and Cloud Scheduler in
        # the same project count as internal traffic. Either way IAM decides who may invoke.
        ingress = "ALLOW_ALL" if spec.http is not None else "ALLOW_INTERNAL_ONLY"
        fn = gcp.cloudfunctionsv2.Function(
            # The function's Cloud Run service takes its name, and service names are under 50
            # characters (so <name>-<hash>-<region>.a.run.app fits a DNS label): 41 + Pulumi's 8.
            _fit(self._name(logical), 41),
            location=self.region,
            description=f"{self.prefix} {logical} ({spec.handler})",
            build_config=build,
            service_config={
                "available_memory": _memory(round_memory("gcp", spec.memory)),
                "timeout_seconds": spec.timeout,
                "min_instance_count": spec.min_instances,
                "service_account_email": account.email,
                "environment_variables": env,
                "ingress_settings": ingress,
                "all_traffic_on_latest_revision": True,
            },
            # The build runs as the build account: its roles must be in place first.
            opts=self._opts(parent, after=self._build_grants),
        )
        built = Built(name=fn.name, native=fn, url=fn.url, refs={
            "kind": "function", "logical": logical, "function": fn, "service_account": account,
            "member": self._member(account), "spec": spec, "url": fn.url,
        })
        source = request.trigger_source
        if source is not None and source.refs.get("kind") == "queue":
            queue_spec: QueueSpec = source.refs["spec"]
            self._push_subscription(parent, built, source.refs["topic"], source.refs["dead_letter"],
                                    name=self._name(request.spec.queue.name, logical),  # type: ignore[union-attr]
                                    max_retries=queue_spec.max_retries,
                                    ack_deadline=_ack_deadline(queue_spec.visibility_timeout),
                                    retention=queue_spec.retention, holds_backlog=True)
        elif source is not None and source.refs.get("kind") == "topic":
            trigger = spec.topic
            assert trigger is not None
            name = self._name(trigger.name, logical)
            self._push_subscription(parent, built, source.refs["topic"], self._dead_letter(parent, f"{name}-dlq"),
                                    name=name, max_retries=SUBSCRIBER_DEFAULTS.max_retries,
                                    ack_deadline=_ack_deadline(spec.timeout), retention=SUBSCRIBER_DEFAULTS.retention,
                                    filter_=pubsub_filter(trigger.filter) if trigger.filter else None)
        return built

    def _push_subscription(self, parent: pulumi.Resource, function: Built, topic: gcp.pubsub.Topic,
                           dead_letter: gcp.pubsub.Topic, *, name: str, max_retries: int, ack_deadline: int,
                           retention: int, filter_: str | None = None,
                           holds_backlog: bool = False) -> gcp.pubsub.Subscription:
        """Push `topic` to the function with an OIDC token of an account that may invoke only it.

        A queue's subscription holds the queue's backlog: prod protects it from deletion, but does
        not retain it (a retained push subscription would push to the deleted function)."""
        logical = function.refs["logical"]
        pusher = self._service_account(parent, logical, "push", "Pub/Sub push to the function")
        invoker = self._invoker(parent, f"{logical}-push-invoker", function, self._member(pusher))
        assert self._pubsub_agent is not None
        # Projects from before April 2021 need the service agent to mint the push account's tokens.
        gcp.serviceaccount.IAMMember(
            f"{logical}-push-token-creator", service_account_id=pusher.name,
            role="roles/iam.serviceAccountTokenCreator", member=self._pubsub_agent.member,
            opts=self._opts(parent))
        url = function.refs["url"]
        subscription = gcp.pubsub.Subscription(
            name,
            topic=topic.id,
            filter=filter_,
            ack_deadline_seconds=ack_deadline,
            message_retention_duration=f"{retention}s",
            expiration_policy={"ttl": ""},
            push_config={
                "push_endpoint": url,
                "oidc_token": {"service_account_email": pusher.email, "audience": url},
            },
            dead_letter_policy={
                "dead_letter_topic": dead_letter.id,
                "max_delivery_attempts": deliveries("gcp", max_retries),
            },
            retry_policy={"minimum_backoff": "10s", "maximum_backoff": "600s"},
            opts=self._opts(parent, after=[invoker], protect=self.ctx.prod and holds_backlog),
        )
        # Dead-lettering acks the message on the source subscription as the service agent.
        gcp.pubsub.SubscriptionIAMMember(
            f"{name}-agent-subscriber", subscription=subscription.id, role="roles/pubsub.subscriber",
            member=self._pubsub_agent.member, opts=self._opts(parent))
        return subscription

    def schedule(self, parent: pulumi.ComponentResource, logical: str, schedule: Schedule, function: Built) -> Built:
        fn_logical = function.refs["logical"]
        account = self._service_account(parent, fn_logical, "sched", "Cloud Scheduler calls the function")
        invoker = self._invoker(parent, f"{logical}-invoker", function, self._member(account))
        url = function.refs["url"]
        body = json.dumps({"omnicloud-schedule": fn_logical}, separators=(",", ":"))
        timeout = function.refs["spec"].timeout
        job = gcp.cloudscheduler.Job(
            self._name(logical),
            region=self.region,
            description=f"{self.prefix} {fn_logical}: {schedule.describe()} (UTC)",
            schedule=schedule.for_gcp(),
            time_zone="Etc/UTC",
            # Cloud Scheduler waits 15 s to 30 min for an HTTP target.
            attempt_deadline=f"{min(max(timeout, 15), 1800)}s",
            retry_config={"retry_count": 0},
            http_target={
                "uri": url,
                "http_method": "POST",
                "headers": {"Content-Type": "application/json"},
                "body": base64.b64encode(body.encode()).decode(),
                "oidc_token": {"service_account_email": account.email, "audience": url},
            },
            opts=self._opts(parent, after=[invoker]),
        )
        return Built(name=job.name, native=job, refs={"kind": "schedule", "job": job})

    def http_api(self, parent: pulumi.ComponentResource, logical: str, routes: list[tuple[str, str, Built]]) -> Built:
        # API Gateway matches `{path=**}` (any depth, last segment), which is exactly a prefix route.
        account = self._service_account(parent, logical, "gw", "API Gateway calls the HTTP functions")
        member = self._member(account)
        invokers = [self._invoker(parent, f"{logical}-{fn_logical}-invoker", built, member)
                    for _, fn_logical, built in routes]
        api_id = _fit(self._name(logical), 63)
        api = gcp.apigateway.Api(
            self._name(logical), api_id=api_id, display_name=f"{self.prefix} {logical}",
            opts=self._opts(parent, delete_before_replace=True))
        backends = [(prefix, fn_logical, built.refs["spec"].timeout) for prefix, fn_logical, built in routes]
        document = pulumi.Output.all(*[built.refs["url"] for _, _, built in routes]).apply(
            lambda urls: _b64(openapi_document(f"{self.prefix} {logical}", [
                (prefix, fn_logical, url, timeout) for (prefix, fn_logical, timeout), url in zip(backends, urls, strict=True)])))
        config = gcp.apigateway.ApiConfig(
            self._name(logical),
            api=api.api_id,
            # Configs are immutable: a new id per change, created before the old one is dropped.
            api_config_id_prefix=f"{api_id[:30].rstrip('-')}-",
            display_name=f"{self.prefix} {logical}",
            openapi_documents=[{"document": {"path": "openapi.json", "contents": document}}],
            gateway_config={"backend_config": {"google_service_account": account.email}},
            opts=self._opts(parent),
        )
        gateway = gcp.apigateway.Gateway(
            self._name(logical),
            gateway_id=_fit(self._name(logical), 49),
            api_config=config.id,
            region=self.region,
            display_name=f"{self.prefix} {logical}",
            opts=self._opts(parent, after=invokers, delete_before_replace=True),
        )
        url = pulumi.Output.concat("https://", gateway.default_hostname)
        return Built(name=gateway.gateway_id, native=gateway, url=url,
                     refs={"kind": "http_api", "api": api, "config": config, "gateway": gateway})


def openapi_document(title: str, routes: list[tuple[str, str, str, int]]) -> dict[str, Any]:
    """OpenAPI 2.0 for API Gateway: each (prefix, function, url, timeout) serves the prefix and
    everything below it, forwarding the full path to the function with an OIDC token for its URL."""
    paths: dict[str, Any] = {}
    # Longest prefix first, so a reader sees the most specific route first.
    for prefix, fn_logical, url, timeout in sorted(routes, key=lambda r: -len(r[0])):
        backend = {"address": url, "jwt_audience": url, "path_translation": "APPEND_PATH_TO_ADDRESS",
                   "deadline": float(timeout)}
        base = prefix.rstrip("/")
        templates = [f"{base}/{{path=**}}"] if not base else [base, f"{base}/{{path=**}}"]
        for template in templates:
            wildcard = "{path=**}" in template
            item: dict[str, Any] = {}
            for method in HTTP_METHODS:
                operation: dict[str, Any] = {
                    "operationId": _operation_id(fn_logical, method, template),
                    "x-google-backend": backend,
                    "responses": {"default": {"description": "the function's response"}},
                }
                if wildcard:
                    operation["parameters"] = [{"name": "path", "in": "path", "required": True, "type": "string"}]
                item[method] = operation
            paths[template] = item
    return {"swagger": "2.0", "info": {"title": title, "version": "1.0.0"}, "schemes": ["https"],
            "produces": ["application/json"], "paths": paths}


def _operation_id(fn_logical: str, method: str, template: str) -> str:
    words = re.sub(r"[^A-Za-z0-9]+", "_", f"{fn_logical}_{method}_{template}").strip("_")
    return words or f"{fn_logical}_{method}"


def _b64(document: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(document, sort_keys=True, indent=1).encode()).decode()


def _ack_deadline(seconds: int) -> int:
    return min(max(seconds, ACK_DEADLINE_MIN), ACK_DEADLINE_MAX)


def _memory(mb: int) -> str:
    return f"{mb // 1024}Gi" if mb >= 1024 and mb % 1024 == 0 else f"{mb}Mi"


def _slug(text: str) -> str:
    text = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return re.sub(r"-{2,}", "-", text) or "x"


def _fit(name: str, limit: int) -> str:
    """`name` if it fits in `limit` characters, else a prefix of it plus a short hash of all of it."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    return f"{name[: limit - 7].rstrip('-')}-{digest}"


@functools.cache
def _input_names(resource_class: type) -> frozenset[str]:
    """The input arguments a pulumi_gcp resource class accepts (outputs are not among them)."""
    init = getattr(resource_class, "_internal_init", None)
    return frozenset(inspect.signature(init).parameters) if init else frozenset()


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _label(text: str) -> str:
    """Google labels: lowercase letters, digits, _ and -, at most 63 characters."""
    return re.sub(r"[^a-z0-9_-]", "_", str(text).lower())[:63]
