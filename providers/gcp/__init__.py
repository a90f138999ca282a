"""Google Cloud: Cloud Functions (2nd gen), Pub/Sub, Firestore, Secret Manager, Cloud Scheduler and
API Gateway, with one service account per function and resource-level IAM for every link.

One file per kind: function.py, queue.py, topic.py, table.py, secret.py, schedule.py, http.py. This
module holds the provider: the app-wide resources (the APIs each kind needs, the source bucket, the
build account), stack labels, service accounts and names.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import inspect
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_gcp as gcp

from providers.base import CloudProvider, DeployContext

if TYPE_CHECKING:
    from components.base import Component

# Pub/Sub push: an ack deadline between 10 s and 600 s; retry backoff between 10 s and 600 s.
ACK_DEADLINE_MIN, ACK_DEADLINE_MAX = 10, 600
DEAD_LETTER_RETENTION = "604800s"  # 7 days, the longest Pub/Sub keeps a message
# What every app enables; each kind's mapping adds the services it uses (`services`).
BASE_SERVICES = (
    "iam.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "storage.googleapis.com",
    "cloudfunctions.googleapis.com",
    "run.googleapis.com",
    "cloudbuild.googleapis.com",
    "artifactregistry.googleapis.com",
)
PUBSUB = "pubsub.googleapis.com"


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


@dataclass
class GcpNodes:
    """The app-wide resources every kind on Google Cloud shares (nodes of the App)."""

    # API switches, by service name without .googleapis.com.
    apis: dict[str, gcp.projects.Service] = field(default_factory=dict)
    bucket: gcp.storage.Bucket | None = None
    # The Pub/Sub service agent, when the app uses Pub/Sub (dead-lettering, push tokens).
    pubsub_agent: gcp.projects.ServiceIdentity | None = None
    build_account: gcp.serviceaccount.Account | None = None
    build_repository: gcp.artifactregistry.Repository | None = None
    build_grants: list[pulumi.Resource] = field(default_factory=list)


class GcpProvider(CloudProvider):
    """Maps the neutral components onto Google Cloud (see DESIGN.md "Mapping").

    Explicit physical names are used only where Google requires one (service account ids, the
    API Gateway api/gateway ids); everything else is auto-named by Pulumi from `<app>-<name>`.
    One Google Cloud project per stack is assumed, as Pulumi.<stack>.yaml sets `gcp:project`.
    """

    cloud = "gcp"
    Nodes = GcpNodes

    def __init__(self, ctx: DeployContext, kinds=None) -> None:
        super().__init__(ctx, kinds)
        config = pulumi.Config("gcp")
        project = config.get("project")
        if not project:
            raise GcpConfigError(
                f"Pulumi.{ctx.stack}.yaml: gcp:project is not set; run `pulumi config set gcp:project <project-id>`"
            )
        self.project: str = project
        self.region: str = config.get("region") or "us-central1"
        self.prefix = ctx.app.name
        self.nodes = GcpNodes()
        self._labels: dict[str, str] | None = None
        self.build: dict[str, pulumi.Output[str]] = {}

    # -- options and names ------------------------------------------------------------------

    def opts(
        self, parent: pulumi.Resource, after: list[pulumi.Resource] | None = None, **extra: Any
    ) -> pulumi.ResourceOptions:
        """Children wait for `after` (and, see `transformation`, for the APIs their type needs)."""
        return pulumi.ResourceOptions(parent=parent, depends_on=after, **extra)

    def stateful(
        self, parent: pulumi.Resource, after: list[pulumi.Resource] | None = None, **extra: Any
    ) -> pulumi.ResourceOptions:
        """Data-holding children: prod protects them and keeps them on delete."""
        return self.ctx.stateful_options(parent, depends_on=after, **extra)

    def name(self, *parts: str) -> str:
        return "-".join((self.prefix, *parts))

    def account_id(self, logical: str, role: str) -> str:
        """A service account id (6-30 chars, [a-z][a-z0-9-]*[a-z0-9]) for `role` of `logical`:
        readable when it fits, else shortened with a hash of the full name so it stays unique."""
        readable = slug(f"{self.prefix}-{logical}")
        suffix = f"-{role}"
        if len(readable) + len(suffix) <= 30:
            return readable + suffix
        digest = hashlib.sha256(readable.encode()).hexdigest()[:4]
        head = readable[: 30 - len(suffix) - 5].rstrip("-")
        return f"{head}-{digest}{suffix}"

    def service_account(
        self, component: Component, key: str, logical: str, role: str, what: str
    ) -> gcp.serviceaccount.Account:
        """Node `key` of `component`: a service account of its own for `role` of `logical`."""
        return component.node(
            key,
            gcp.serviceaccount.Account,
            self.name(logical, role),
            # Google demands an explicit id; replace by deleting first so the id can be reused.
            self.opts(component, delete_before_replace=True),
            account_id=self.account_id(logical, role),
            display_name=f"{self.prefix} {logical}: {what}"[:100],
        )

    @staticmethod
    def member(account: gcp.serviceaccount.Account) -> pulumi.Output[str]:
        return account.email.apply(lambda email: f"serviceAccount:{email}")

    def invoker(
        self,
        component: Component,
        key: str,
        name: str,
        function: gcp.cloudfunctionsv2.Function,
        member: pulumi.Input[str],
    ) -> gcp.cloudrunv2.ServiceIamMember:
        # A 2nd gen function is served by the Cloud Run service of the same name; run.invoker must be
        # granted there (the cloudfunctionsv2 IAM resource rejects roles/run.invoker).
        return component.node(
            key,
            gcp.cloudrunv2.ServiceIamMember,
            name,
            self.opts(component),
            name=function.name,
            location=self.region,
            role="roles/run.invoker",
            member=member,
        )

    def dead_letter(
        self, component: Component, name: str
    ) -> tuple[gcp.pubsub.Topic, gcp.pubsub.Subscription, gcp.pubsub.TopicIAMMember]:
        """A dead-letter topic the Pub/Sub service agent may publish to, with a pull subscription
        so dead letters are kept (a topic alone keeps nothing); that subscription holds data.
        Nodes `dead_letter`, `dead_letter_subscription` and `dead_letter_publisher` of `component`."""
        topic = component.node("dead_letter", gcp.pubsub.Topic, name, self.opts(component))
        subscription = component.node(
            "dead_letter_subscription",
            gcp.pubsub.Subscription,
            name,
            self.stateful(component),
            topic=topic.id,
            message_retention_duration=DEAD_LETTER_RETENTION,
            ack_deadline_seconds=60,
            expiration_policy={"ttl": ""},
        )
        publisher = component.node(
            "dead_letter_publisher",
            gcp.pubsub.TopicIAMMember,
            f"{name}-agent-publisher",
            self.opts(component),
            topic=topic.id,
            role="roles/pubsub.publisher",
            member=self.pubsub_agent().member,
        )
        return topic, subscription, publisher

    def pubsub_agent(self) -> gcp.projects.ServiceIdentity:
        if self.nodes.pubsub_agent is None:
            raise RuntimeError(
                "the Pub/Sub service agent is made by setup(app) when a kind the app uses needs"
                f" {PUBSUB}"
            )
        return self.nodes.pubsub_agent

    def topic_path(self, topic: gcp.pubsub.Topic) -> pulumi.Output[str]:
        return pulumi.Output.concat("projects/", self.project, "/topics/", topic.name)

    # -- app-wide ---------------------------------------------------------------------------

    def kinds_in_use(self) -> list[str]:
        app = self.ctx.app
        used = [kind.name for kind in self.kinds.resource_kinds() if app.section(kind.name)]
        if any(fn.schedule for fn in app.functions.values()):
            used.append("schedule")
        if any(fn.http for fn in app.functions.values()):
            used.append("http")
        return used

    def setup(self, app: Component) -> GcpNodes:
        services = list(BASE_SERVICES)
        for kind in self.kinds_in_use():
            services += [
                s for s in getattr(self.mapping_class(kind), "services", ()) if s not in services
            ]
        for service in services:
            # Other apps in the project may use the same APIs: never switch them off on destroy.
            self.nodes.apis[service.split(".")[0]] = app.node(
                "apis",
                gcp.projects.Service,
                self.name(service.split(".")[0]),
                service=service,
                disable_on_destroy=False,
            )
        self.nodes.bucket = app.node(
            "bucket",
            gcp.storage.Bucket,
            self.name("source"),
            self.opts(app),
            location=self.region,
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            force_destroy=not self.ctx.prod,
        )
        if PUBSUB in services:
            # The Pub/Sub service agent forwards undeliverable messages to dead-letter topics.
            self.nodes.pubsub_agent = app.node(
                "pubsub_agent",
                gcp.projects.ServiceIdentity,
                self.name("pubsub-agent"),
                self.opts(app),
                service=PUBSUB,
            )
        self._setup_build(app)
        return self.nodes

    def _setup_build(self, app: Component) -> None:
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
        nodes = self.nodes
        assert nodes.bucket is not None
        account = self.service_account(
            app, "build_account", "functions", "build", "Cloud Build builds the functions"
        )
        member = self.member(account)
        repository = app.node(
            "build_repository",
            gcp.artifactregistry.Repository,
            self.name("functions"),
            # An explicit id: delete before replacing so the id can be reused.
            self.opts(app, delete_before_replace=True),
            repository_id=fit_name(slug(self.name("functions")), 63),
            location=self.region,
            format="DOCKER",
            description=f"{self.prefix}: images Cloud Build makes of the functions",
        )
        nodes.build_account, nodes.build_repository = account, repository
        nodes.build_grants = [
            app.node(
                "build_grants",
                gcp.artifactregistry.RepositoryIamMember,
                self.name("build-images"),
                self.opts(app),
                repository=repository.name,
                location=self.region,
                role="roles/artifactregistry.writer",
                member=member,
            ),
            app.node(
                "build_grants",
                gcp.storage.BucketIAMMember,
                self.name("build-source"),
                self.opts(app),
                bucket=nodes.bucket.name,
                role="roles/storage.objectViewer",
                member=member,
            ),
            app.node(
                "build_grants",
                gcp.projects.IAMMember,
                self.name("build-logs"),
                self.opts(app),
                project=self.project,
                role="roles/logging.logWriter",
                member=member,
            ),
        ]
        self.build = {"service_account": account.id, "docker_repository": repository.id}

    def transformation(
        self, args: pulumi.ResourceTransformationArgs
    ) -> pulumi.ResourceTransformationResult | None:
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
        apis = self.nodes.apis
        wait = list(apis.values()) if needed is None else [apis[a] for a in needed if a in apis]
        if wait:
            opts = copy.copy(opts)
            opts.depends_on = [*wait, *_as_list(opts.depends_on)]
        return pulumi.ResourceTransformationResult(props=props, opts=opts)

    def _stack_labels(self) -> dict[str, str]:
        if self._labels is None:
            self._labels = {_label(k): _label(v) for k, v in self.ctx.tags().items()}
        return self._labels


def ack_deadline(seconds: int) -> int:
    return min(max(seconds, ACK_DEADLINE_MIN), ACK_DEADLINE_MAX)


def slug(text: str) -> str:
    text = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return re.sub(r"-{2,}", "-", text) or "x"


def fit_name(name: str, limit: int) -> str:
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
