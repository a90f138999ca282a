"""Google Cloud provider: the shared contract plus what only Google Cloud configures (Pub/Sub
dead-lettering and push auth, Firestore protection, Cloud Scheduler, API Gateway routes)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from omnicloud.mockstate import gcp as cloud
from omnicloud.preview import PreviewResource, PreviewResult, run_preview
from spec import load_app
from spec.filters import matches

from .contract import ROOT, CloudHooks, Grant, ProviderContract, preview

FILTER_APP = str(Path(__file__).parent / "apps" / "gcp_filter" / "app.yaml")

FUNCTION = "gcp:cloudfunctionsv2/function:Function"
TOPIC = "gcp:pubsub/topic:Topic"
SUBSCRIPTION = "gcp:pubsub/subscription:Subscription"
DATABASE = "gcp:firestore/database:Database"
SECRET = "gcp:secretmanager/secret:Secret"
ACCOUNT = "gcp:serviceaccount/account:Account"
INVOKER = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
JOB = "gcp:cloudscheduler/job:Job"
IAM_TYPES = {
    "gcp:pubsub/topicIAMMember:TopicIAMMember": "topic",
    "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember": "subscription",
    "gcp:secretmanager/secretIamMember:SecretIamMember": "secretId",
    INVOKER: "name",
    "gcp:serviceaccount/iAMMember:IAMMember": "serviceAccountId",
    PROJECT_MEMBER: "project",
}
REPOSITORY = "gcp:artifactregistry/repository:Repository"
SERVICE = "gcp:projects/service:Service"



def cloud_id(r: PreviewResource) -> str:
    """The id Google Cloud gives the resource (resource path), as the mock cloud computes it."""
    return cloud.state(r.type, r.name, r.props)[0]


def cloud_state(r: PreviewResource) -> dict:
    return cloud.state(r.type, r.name, r.props)[1]


def component(result: PreviewResult, kind: str, logical: str) -> PreviewResource:
    return result.by_name(logical, f"omnicloud:index:{kind}")


def natives(result: PreviewResult, kind: str, logical: str, type_: str) -> list[PreviewResource]:
    return [c for c in result.children(component(result, kind, logical).urn) if c.type == type_]


def function_resource(result: PreviewResult, logical: str) -> PreviewResource:
    (fn,) = natives(result, "Function", logical, FUNCTION)
    return fn


def function_url(result: PreviewResult, logical: str) -> str:
    return cloud_state(function_resource(result, logical))["url"]


def function_by_email(result: PreviewResult) -> dict[str, str]:
    return {f"serviceAccount:{r.props['serviceConfig']['serviceAccountEmail']}":
            r.props["serviceConfig"]["environmentVariables"]["OMNICLOUD_FUNCTION"] for r in result.of_type(FUNCTION)}


def main_topic(result: PreviewResult, kind: str, logical: str) -> PreviewResource:
    dead_letter_topics = {s.props["deadLetterPolicy"]["deadLetterTopic"]
                          for s in result.of_type(SUBSCRIPTION) if s.props.get("deadLetterPolicy")}
    (topic,) = [t for t in natives(result, kind, logical, TOPIC) if cloud_id(t) not in dead_letter_topics]
    return topic


def push_subscriptions(result: PreviewResult, topic: PreviewResource) -> list[PreviewResource]:
    return [s for s in result.of_type(SUBSCRIPTION) if s.props["topic"] == cloud_id(topic) and s.props.get("pushConfig")]


def invokers_of(result: PreviewResult, member: str) -> set[str]:
    """Function services `member` may invoke."""
    return {r.props["name"] for r in result.of_type(INVOKER) if r.props["member"] == member}


def link(result: PreviewResult, function: str, logical: str) -> dict:
    env = function_resource(result, function).props["serviceConfig"]["environmentVariables"]
    return json.loads(env["OMNICLOUD_LINK_" + logical.upper().replace("-", "_")])


class GcpHooks(CloudHooks):
    cloud = "gcp"

    def grants(self, result: PreviewResult) -> list[Grant]:
        owners = function_by_email(result)
        out = []
        for r in result.resources:
            scope_key = IAM_TYPES.get(r.type)
            if scope_key is None or r.props["member"] not in owners:
                continue
            resource = r.props[scope_key]
            if r.type == PROJECT_MEMBER:
                # A project-level binding is scoped only as far as its condition says.
                condition = (r.props.get("condition") or {}).get("expression", "")
                scoped = re.match(r'resource\.name == "([^"]+)"', condition)
                resource = scoped.group(1) if scoped else f"projects/{resource}"
            out.append(Grant(function=owners[r.props["member"]], actions=(r.props["role"],), resource=resource))
        return out

    def resource_ref(self, result: PreviewResult, kind: str, logical: str) -> str:
        if kind in ("queue", "topic"):
            return cloud_id(main_topic(result, kind.capitalize(), logical))
        type_ = {"table": DATABASE, "secret": SECRET}[kind]
        (native,) = natives(result, kind.capitalize(), logical, type_)
        return cloud_id(native)

    def max_deliveries(self, result: PreviewResult, queue: str) -> int:
        (subscription,) = push_subscriptions(result, main_topic(result, "Queue", queue))
        return int(subscription.props["deadLetterPolicy"]["maxDeliveryAttempts"])

    def stateful_resources(self, result: PreviewResult) -> list:
        """What holds data: databases, secrets and their versions, and the pull subscriptions that
        keep a consumerless queue's messages or dead letters (push subscriptions: see below)."""
        return [r for r in result.resources if r.type in (DATABASE, SECRET, "gcp:secretmanager/secretVersion:SecretVersion")
                or (r.type == SUBSCRIPTION and not r.props.get("pushConfig"))]


class TestGcpContract(ProviderContract, GcpHooks):
    pass


# -- queues and topics ------------------------------------------------------------------------


def test_queue_pushes_to_its_consumer_with_retry_backoff_and_ack_deadline():
    result = preview("gcp")
    (sub,) = push_subscriptions(result, main_topic(result, "Queue", "task-queue"))
    assert sub.props["ackDeadlineSeconds"] == 600  # unset visibility: 6 x 300 s, capped at Pub/Sub's 600 s
    assert sub.props["pushConfig"]["pushEndpoint"] == function_url(result, "worker")
    backoff = sub.props["retryPolicy"]
    assert backoff["minimumBackoff"] == "10s" and backoff["maximumBackoff"] == "600s"
    assert sub.props["messageRetentionDuration"] == "345600s"
    assert sub.props["expirationPolicy"] == {"ttl": ""}  # never expires while idle


def test_queue_ack_deadline_and_dead_lettering_follow_the_spec():
    result = preview("gcp", app=FILTER_APP)
    (sub,) = push_subscriptions(result, main_topic(result, "Queue", "jobs"))
    assert sub.props["ackDeadlineSeconds"] == 10  # visibility_timeout 5 is raised to Pub/Sub's minimum
    assert sub.props["deadLetterPolicy"]["maxDeliveryAttempts"] == 8  # max_retries 7 + the first delivery


def test_dead_letters_are_kept_and_the_pubsub_agent_can_move_them():
    result = preview("gcp")
    agent = cloud_state(result.of_type("gcp:projects/serviceIdentity:ServiceIdentity")[0])["member"]
    assert re.fullmatch(r"serviceAccount:service-\d+@gcp-sa-pubsub\.iam\.gserviceaccount\.com", agent)
    for sub in result.of_type(SUBSCRIPTION):
        if not sub.props.get("pushConfig"):
            continue
        dead_letter = sub.props["deadLetterPolicy"]["deadLetterTopic"]
        keepers = [s for s in result.of_type(SUBSCRIPTION) if s.props["topic"] == dead_letter]
        assert keepers and keepers[0].props["messageRetentionDuration"] == "604800s", sub.name
        publishers = [r for r in result.of_type("gcp:pubsub/topicIAMMember:TopicIAMMember")
                      if r.props["topic"] == dead_letter and r.props["member"] == agent]
        assert [p.props["role"] for p in publishers] == ["roles/pubsub.publisher"], sub.name
        subscribers = [r for r in result.of_type("gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember")
                       if r.props["subscription"] == cloud_id(sub) and r.props["member"] == agent]
        assert [s.props["role"] for s in subscribers] == ["roles/pubsub.subscriber"], sub.name


def test_push_subscriptions_authenticate_as_an_account_that_may_invoke_only_their_function():
    for app in (None, FILTER_APP):
        result = preview("gcp", app=app)
        names = {cloud_state(fn)["url"]: cloud_state(fn)["name"] for fn in result.of_type(FUNCTION)}
        pushes = [s for s in result.of_type(SUBSCRIPTION) if s.props.get("pushConfig")]
        assert pushes
        for sub in pushes:
            push = sub.props["pushConfig"]
            token = push["oidcToken"]
            assert token["audience"] == push["pushEndpoint"]
            assert invokers_of(result, f"serviceAccount:{token['serviceAccountEmail']}") == {names[push["pushEndpoint"]]}


def test_topic_subscribers_get_the_pubsub_filter_of_their_spec():
    result = preview("gcp", app=FILTER_APP)
    app = load_app(Path(FILTER_APP))
    by_endpoint = {s.props["pushConfig"]["pushEndpoint"]: s for s in push_subscriptions(
        result, main_topic(result, "Topic", "events"))}
    assert len(by_endpoint) == 3
    completed = by_endpoint[function_url(result, "completed-notifications-for-audit-logs")]
    assert completed.props["filter"] == 'attributes.type = "task.completed"'
    escalations = by_endpoint[function_url(result, "escalations")].props["filter"]
    assert escalations == ('attributes.priority = "high" AND '
                           '(attributes.type = "task.failed" OR attributes.type = "task.cancelled")')
    assert matches(app.functions["escalations"].topic.filter, {"type": "task.cancelled", "priority": "high"})
    assert "filter" not in by_endpoint[function_url(result, "everything")].props  # everything is delivered
    # Each subscriber dead-letters on its own, after the default retries.
    dead_letters = {s.props["deadLetterPolicy"]["deadLetterTopic"] for s in by_endpoint.values()}
    assert len(dead_letters) == 3
    assert {s.props["deadLetterPolicy"]["maxDeliveryAttempts"] for s in by_endpoint.values()} == {5}


# -- schedules --------------------------------------------------------------------------------


@pytest.mark.parametrize(("app", "function", "cron"), [(None, "sweeper", "*/5 * * * *"), (FILTER_APP, "weekly", "0 3 * * 1")])
def test_schedules_post_to_their_function_in_utc_with_oidc(app, function, cron):
    result = preview("gcp", app=app)
    (job,) = natives(result, "Schedule", f"{function}-schedule", JOB)
    assert job.props["schedule"] == cron and job.props["timeZone"] == "Etc/UTC"
    target = job.props["httpTarget"]
    url = function_url(result, function)
    assert target["uri"] == url and target["httpMethod"] == "POST"
    assert json.loads(base64.b64decode(target["body"])) == {"omnicloud-schedule": function}
    assert target["oidcToken"]["audience"] == url
    member = f"serviceAccount:{target['oidcToken']['serviceAccountEmail']}"
    assert invokers_of(result, member) == {cloud_state(function_resource(result, function))["name"]}


# -- http -------------------------------------------------------------------------------------


def _openapi(result: PreviewResult) -> dict:
    (config,) = natives(result, "HttpApi", "http", "gcp:apigateway/apiConfig:ApiConfig")
    return json.loads(base64.b64decode(config.props["openapiDocuments"][0]["document"]["contents"]))


def test_gateway_routes_each_prefix_and_everything_below_it_to_its_function():
    result = preview("gcp", app=FILTER_APP)
    doc = _openapi(result)
    assert doc["swagger"] == "2.0"
    web, admin = function_url(result, "web"), function_url(result, "admin")
    expected = {"/{path=**}": web, "/admin": admin, "/admin/{path=**}": admin}
    assert set(doc["paths"]) == set(expected)
    for path, url in expected.items():
        for method in ("get", "post", "put", "patch", "delete"):
            backend = doc["paths"][path][method]["x-google-backend"]
            assert backend["address"] == url and backend["jwt_audience"] == url
            assert backend["path_translation"] == "APPEND_PATH_TO_ADDRESS"  # the function sees the full path
    operation_ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids))


def test_gateway_account_may_invoke_exactly_the_http_functions_and_url_is_the_gateway():
    result = preview("gcp", app=FILTER_APP)
    (config,) = natives(result, "HttpApi", "http", "gcp:apigateway/apiConfig:ApiConfig")
    email = config.props["gatewayConfig"]["backendConfig"]["googleServiceAccount"]
    names = {cloud_state(function_resource(result, f))["name"] for f in ("web", "admin")}
    assert invokers_of(result, f"serviceAccount:{email}") == names
    (gateway,) = natives(result, "HttpApi", "http", "gcp:apigateway/gateway:Gateway")
    assert result.outputs["url"] == f"https://{cloud_state(gateway)['defaultHostname']}"


def test_only_http_functions_accept_traffic_from_outside_the_project():
    result = preview("gcp")
    ingress = {r.props["serviceConfig"]["environmentVariables"]["OMNICLOUD_FUNCTION"]:
               r.props["serviceConfig"]["ingressSettings"] for r in result.of_type(FUNCTION)}
    app = load_app(ROOT / "app.yaml")
    assert ingress == {name: "ALLOW_ALL" if fn.http else "ALLOW_INTERNAL_ONLY" for name, fn in app.functions.items()}
    assert ingress["api"] == "ALLOW_ALL" and ingress["worker"] == "ALLOW_INTERNAL_ONLY"


# -- least privilege ----------------------------------------------------------------------------


def _all_iam(result: PreviewResult) -> list[PreviewResource]:
    return [r for r in result.resources if r.type in IAM_TYPES]


@pytest.mark.parametrize(("stack", "app"), [("dev", None), ("prod", None), ("dev", FILTER_APP)])
def test_no_public_or_primitive_roles(stack, app):
    members = _all_iam(preview("gcp", stack, app=app))
    assert members
    for r in members:
        assert r.props["member"] not in ("allUsers", "allAuthenticatedUsers"), r.name
        assert r.props["role"] not in ("roles/editor", "roles/owner", "roles/viewer"), r.name


def test_project_level_grants_are_only_firestore_roles_conditioned_to_the_linked_database():
    for app in (None, FILTER_APP):
        result = preview("gcp", app=app)
        owners = function_by_email(result)
        build = [r for r in result.of_type(PROJECT_MEMBER) if r.props["role"] == "roles/logging.logWriter"]
        assert [r.props["member"] for r in build] == [f"serviceAccount:{build_account(result)}"]
        project_members = [r for r in result.of_type(PROJECT_MEMBER) if r not in build]
        assert project_members
        for r in project_members:
            assert r.props["role"] in ("roles/datastore.user", "roles/datastore.viewer"), r.name
            function = owners[r.props["member"]]
            (table,) = [t for t in load_app(Path(app or ROOT / "app.yaml")).functions[function].links
                        if r.name == f"{function}-{t}-{r.props['role'].rsplit('.', 1)[-1]}"]
            target = link(result, function, table)
            database = f"projects/{target['project']}/databases/{target['database']}"
            assert re.match(rf'resource\.name == "{re.escape(database)}"( \|\||$)', r.props["condition"]["expression"])
            assert "write" in target["verbs"] or r.props["role"] == "roles/datastore.viewer"


def test_links_name_the_resources_the_grants_are_on():
    hooks = GcpHooks()
    result = preview("gcp")
    granted = {(g.function, g.resource) for g in hooks.grants(result)}
    app = load_app(ROOT / "app.yaml")
    for fname, fn in app.functions.items():
        for target in fn.links:
            props = link(result, fname, target)
            kind = app.kind_of(target)
            if kind == "table":
                resource = f"projects/{props['project']}/databases/{props['database']}"
                assert props["collection"] == target and props["partition_key"] == app.tables[target].partition_key
            elif kind in ("queue", "topic"):
                resource = props["topic"]
            else:
                resource = props["name"]
            assert (fname, resource) in granted, (fname, target)
            assert resource == hooks.resource_ref(result, kind, target)


def test_every_function_runs_as_its_own_account_with_valid_ids():
    result = preview("gcp", app=FILTER_APP)
    emails = [r.props["serviceConfig"]["serviceAccountEmail"] for r in result.of_type(FUNCTION)]
    assert len(set(emails)) == len(emails) == 7
    account_ids = [r.props["accountId"] for r in result.of_type(ACCOUNT)]
    assert len(set(account_ids)) == len(account_ids)
    for account_id in account_ids:
        assert re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", account_id), account_id
    # Cloud Run service names (the function's, with Pulumi's suffix) stay under 50 characters.
    assert all(len(cloud_state(r)["name"]) < 50 for r in result.of_type(FUNCTION))


# -- state and stacks -------------------------------------------------------------------------


def test_prod_tables_have_point_in_time_recovery_and_delete_protection_dev_is_destroyable():
    prod = {r.name: r for r in preview("gcp", "prod").of_type(DATABASE)}
    dev = {r.name: r for r in preview("gcp", "dev").of_type(DATABASE)}
    assert len(prod) == len(dev) == len(load_app(ROOT / "app.yaml").tables)
    for r in prod.values():
        assert r.props["type"] == "FIRESTORE_NATIVE"
        assert r.props["pointInTimeRecoveryEnablement"] == "POINT_IN_TIME_RECOVERY_ENABLED"
        assert r.props["deleteProtectionState"] == "DELETE_PROTECTION_ENABLED"
        assert r.props["deletionPolicy"] == "ABANDON"
    for r in dev.values():
        assert r.props["pointInTimeRecoveryEnablement"] == "POINT_IN_TIME_RECOVERY_DISABLED"
        assert r.props["deleteProtectionState"] == "DELETE_PROTECTION_DISABLED"
        assert r.props["deletionPolicy"] == "DELETE"
    secrets = preview("gcp", "prod").of_type(SECRET)
    assert secrets and all(s.props["deletionProtection"] for s in secrets)


def test_table_ttl_and_sort_key_indexes_on_the_collection():
    result = preview("gcp")
    (ttl,) = natives(result, "Table", "tasks", "gcp:firestore/field:Field")
    (database,) = natives(result, "Table", "tasks", DATABASE)
    from runtime.backends.gcp import EXPIRES_FIELD

    # Firestore TTL needs a timestamp: the policy is on the field the runtime writes beside expires_at.
    assert (ttl.props["collection"], ttl.props["field"], ttl.props["database"]) == (
        "tasks", EXPIRES_FIELD, cloud_state(database)["name"])
    assert "ttlConfig" in ttl.props
    assert not natives(result, "Table", "agents", "gcp:firestore/field:Field")  # agents has no ttl
    orders = sorted(i.props["fields"][1]["order"] for i in natives(result, "Table", "tasks", "gcp:firestore/index:Index"))
    assert orders == ["ASCENDING", "DESCENDING"]
    assert not natives(preview("gcp", app=FILTER_APP), "Table", "audit", "gcp:firestore/index:Index")  # no sort key


def test_stack_overrides_reach_the_function():
    def service(stack: str) -> dict:
        return function_resource(preview("gcp", stack), "api").props["serviceConfig"]

    assert (service("prod")["availableMemory"], service("prod")["minInstanceCount"]) == ("1Gi", 1)
    assert (service("dev")["availableMemory"], service("dev")["minInstanceCount"]) == ("512Mi", 0)


def test_function_code_comes_from_a_private_bucket_object_named_by_its_hash():
    # A fresh preview: the bundle on disk is rewritten by every preview of the same app.
    result = run_preview(ROOT, "gcp", "dev", app=FILTER_APP)
    (bucket,) = result.of_type("gcp:storage/bucket:Bucket")
    assert bucket.props["uniformBucketLevelAccess"] is True and bucket.props["publicAccessPrevention"] == "enforced"
    fn = function_resource(result, "quick")
    (obj,) = natives(result, "Function", "quick", "gcp:storage/bucketObject:BucketObject")
    storage = fn.props["buildConfig"]["source"]["storageSource"]
    assert storage == {"bucket": cloud_state(bucket)["name"], "object": obj.props["name"]}
    digest = re.search(r"[0-9a-f]{64}", obj.props["name"])
    assert digest and Path(obj.props["source"]["asset"]).exists()
    import hashlib

    assert hashlib.sha256(Path(obj.props["source"]["asset"]).read_bytes()).hexdigest() == digest.group(0)
    assert fn.props["buildConfig"]["runtime"] == "python312" and fn.props["buildConfig"]["entryPoint"] == "handle"


def test_stack_labels_on_every_resource_that_takes_labels():
    result = preview("gcp", "prod")
    labelled = [r for r in result.resources if r.type in (FUNCTION, TOPIC, SUBSCRIPTION, SECRET,
                                                          "gcp:storage/bucket:Bucket")]
    assert labelled
    for r in labelled:
        assert r.props["labels"] == {"omnicloud-app": "agents", "omnicloud-stack": "prod", "managed-by": "omnicloud"}


def test_missing_project_is_one_clear_line(tmp_path):
    from omnicloud.preview import ProgramError

    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  omnicloud:environment: dev\n  gcp:region: us-central1\n")
    (tmp_path / "__main__.py").write_text((ROOT / "__main__.py").read_text())
    with pytest.raises(ProgramError) as err:
        run_preview(tmp_path, "gcp", "dev", app=str(ROOT / "app.yaml"))
    message = str(err.value)
    assert "gcp:project is not set" in message and "pulumi config set gcp:project" in message
    assert "\n" not in message


# -- issue 10 ---------------------------------------------------------------------------------


def build_account(result: PreviewResult) -> str:
    (account,) = [a for a in result.of_type(ACCOUNT) if a.props["accountId"].endswith("-build")]
    return cloud_state(account)["email"]


def test_functions_build_as_their_own_account_with_only_the_roles_a_build_needs():
    for app in (None, FILTER_APP):
        result = preview("gcp", app=app)
        email = build_account(result)
        member = f"serviceAccount:{email}"
        (repository,) = result.of_type(REPOSITORY)
        (bucket,) = result.of_type("gcp:storage/bucket:Bucket")
        assert repository.props["format"] == "DOCKER"
        grants = {(r.type, r.props["role"], r.props.get("repository") or r.props.get("bucket") or r.props.get("project"))
                  for r in result.resources if r.props.get("member") == member}
        assert grants == {
            ("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember", "roles/artifactregistry.writer",
             cloud_state(repository)["name"]),
            ("gcp:storage/bucketIAMMember:BucketIAMMember", "roles/storage.objectViewer", cloud_state(bucket)["name"]),
            (PROJECT_MEMBER, "roles/logging.logWriter", cloud_state(bucket)["project"]),
        }
        grant_urns = {r.urn for r in result.resources if r.props.get("member") == member}
        for fn in result.of_type(FUNCTION):
            build = fn.props["buildConfig"]
            assert build["serviceAccount"] == f"projects/{cloud_state(bucket)['project']}/serviceAccounts/{email}"
            assert build["dockerRepository"] == cloud_id(repository)
            assert grant_urns <= set(fn.dependencies), fn.name  # built only once the roles exist


def test_project_iam_bindings_wait_for_the_resource_manager_api():
    result = preview("gcp")
    (api,) = [r for r in result.of_type(SERVICE) if r.props["service"] == "cloudresourcemanager.googleapis.com"]
    assert api.props["disableOnDestroy"] is False
    members = result.of_type(PROJECT_MEMBER)
    assert any(r.props.get("condition") for r in members)  # the conditional Firestore grants
    for r in members:
        assert api.urn in r.dependencies, r.name


def test_prod_protects_what_holds_data_and_leaves_recreatable_plumbing_free():
    prod = preview("gcp", "prod")
    # Topics hold no messages; a subscriber's push subscription is replaced when its filter changes
    # and must go when the subscriber goes: neither protected nor retained.
    for topic in prod.of_type(TOPIC):
        assert not (topic.protect or topic.retain_on_delete), topic.name
    queue_subscription = push_subscriptions(prod, main_topic(prod, "Queue", "task-queue"))
    subscriber_subscriptions = push_subscriptions(prod, main_topic(prod, "Topic", "events"))
    assert subscriber_subscriptions
    for sub in subscriber_subscriptions:
        assert not (sub.protect or sub.retain_on_delete), sub.name
    # A queue's push subscription holds its backlog: protected, but not retained (it would push to
    # a deleted function).
    assert [(s.protect, s.retain_on_delete) for s in queue_subscription] == [(True, False)]
    # Dead letters are kept: their pull subscriptions are protected and retained.
    keepers = [s for s in prod.of_type(SUBSCRIPTION) if not s.props.get("pushConfig")]
    assert keepers and all(s.protect and s.retain_on_delete for s in keepers)
    dev = preview("gcp")
    assert not any(r.protect or r.retain_on_delete for r in dev.resources)
