"""What Google Cloud would compute for a resource (auto-names, resource paths, emails, run.app URLs),
for `omnicloud preview` and tests. Deterministic: the same program always previews the same values."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

DEFAULT_PROJECT = "omnicloud-dev"
DEFAULT_REGION = "us-central1"
# The short region code in Cloud Run URLs (https://<service>-<hash>-uc.a.run.app).
REGION_CODES = {
    "us-central1": "uc", "us-east1": "ue", "us-east4": "uk", "us-west1": "uw", "us-west2": "wl",
    "europe-west1": "ew", "europe-west2": "nw", "europe-west3": "ey", "europe-west4": "ez",
    "asia-east1": "de", "asia-northeast1": "an", "asia-southeast1": "as", "australia-southeast1": "ts",
}


def _hex(*parts: str, length: int = 8) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def _digits(*parts: str, length: int = 12) -> str:
    return str(int(_hex(*parts, length=24), 16))[:length].rjust(length, "1")


def _config(key: str, default: str) -> str:
    try:
        from pulumi.runtime.config import get_config

        return get_config(key) or default
    except Exception:
        return default


def project_of(inputs: dict[str, Any]) -> str:
    return inputs.get("project") or _config("gcp:project", DEFAULT_PROJECT)


def region_of(inputs: dict[str, Any], key: str = "location") -> str:
    return inputs.get(key) or _config("gcp:region", DEFAULT_REGION)


def project_number(project: str) -> str:
    return _digits("project-number", project)


def autoname(name: str) -> str:
    """Pulumi's auto-name: the resource name plus a dash and 7 random hex characters."""
    return f"{name}-{_hex('autoname', name, length=7)}"


def _last(path: str) -> str:
    return str(path).rsplit("/", 1)[-1]


def _bucket(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    bucket = inputs.get("name") or autoname(name)
    return bucket, {"name": bucket, "url": f"gs://{bucket}", "selfLink": f"https://www.googleapis.com/storage/v1/b/{bucket}",
                    "project": project_of(inputs), "storageClass": inputs.get("storageClass") or "STANDARD"}


def _bucket_object(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    obj = inputs.get("name") or autoname(name)
    bucket = inputs.get("bucket", "")
    generation = _digits("generation", bucket, obj, length=16)
    return f"{bucket}-{obj}", {"name": obj, "generation": generation, "md5hash": _hex("md5", obj, length=24) + "==",
                               "mediaLink": f"https://storage.googleapis.com/download/storage/v1/b/{bucket}/o/{obj}",
                               "selfLink": f"https://www.googleapis.com/storage/v1/b/{bucket}/o/{obj}"}


def _service(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return f"{project_of(inputs)}/{inputs.get('service')}", {"project": project_of(inputs)}


def _service_identity(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    project = project_of(inputs)
    service = str(inputs.get("service", "")).split(".")[0]
    email = f"service-{project_number(project)}@gcp-sa-{service}.iam.gserviceaccount.com"
    return f"projects/{project}/services/{inputs.get('service')}", {
        "project": project, "email": email, "member": f"serviceAccount:{email}"}


def _database(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    project = project_of(inputs)
    db = inputs.get("name") or autoname(name)
    return f"projects/{project}/databases/{db}", {
        "name": db, "project": project, "uid": _uuid("db", project, db), "etag": _hex("etag", db, length=16),
        "createTime": "2024-01-01T00:00:00Z", "versionRetentionPeriod":
        "604800s" if inputs.get("pointInTimeRecoveryEnablement") == "POINT_IN_TIME_RECOVERY_ENABLED" else "3600s",
        "concurrencyMode": inputs.get("concurrencyMode") or "PESSIMISTIC",
    }


def _field(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    project = project_of(inputs)
    path = (f"projects/{project}/databases/{_last(inputs.get('database', '(default)'))}"
            f"/collectionGroups/{inputs.get('collection')}/fields/{inputs.get('field')}")
    state: dict[str, Any] = {"name": path, "project": project}
    if "ttlConfig" in inputs:
        state["ttlConfig"] = {"state": "ACTIVE"}
    return path, state


def _index(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    project = project_of(inputs)
    index_id = "CICAg" + _hex("index", name, length=10).upper()
    path = (f"projects/{project}/databases/{_last(inputs.get('database', '(default)'))}"
            f"/collectionGroups/{inputs.get('collection')}/indexes/{index_id}")
    return path, {"name": path, "project": project}


def _topic(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    project = project_of(inputs)
    topic = inputs.get("name") or autoname(name)
    return f"projects/{project}/topics/{topic}", {"name": topic, "project": project}


def _subscription(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    project = project_of(inputs)
    sub = inputs.get("name") or autoname(name)
    return f"projects/{project}/subscriptions/{sub}", {"name": sub, "project": project}


def _account(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    project = project_of(inputs)
    account_id = inputs.get("accountId") or autoname(name)[:30]
    email = f"{account_id}@{project}.iam.gserviceaccount.com"
    return f"projects/{project}/serviceAccounts/{email}", {
        "accountId": account_id, "email": email, "member": f"serviceAccount:{email}",
        "name": f"projects/{project}/serviceAccounts/{email}", "uniqueId": _digits("sa", email, length=21),
        "project": project}


def _function(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    project = project_of(inputs)
    region = region_of(inputs)
    fn = inputs.get("name") or autoname(name)
    # Cloud Run URLs are https://<service>-<project hash>-<region code>.a.run.app
    url = f"https://{fn}-{_hex('run', project, fn, length=10)}-{REGION_CODES.get(region, 'uc')}.a.run.app"
    service_config = dict(inputs.get("serviceConfig") or {})
    service_config.update({"uri": url, "service": f"projects/{project}/locations/{region}/services/{fn}",
                           "gcfUri": f"https://{region}-{project}.cloudfunctions.net/{fn}"})
    return f"projects/{project}/locations/{region}/functions/{fn}", {
        "name": fn, "location": region, "project": project, "url": url, "state": "ACTIVE",
        "environment": "GEN_2", "serviceConfig": service_config, "updateTime": "2024-01-01T00:00:00Z"}


def _secret(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    project = project_of(inputs)
    secret_id = inputs.get("secretId") or autoname(name)
    # The API names secrets by project number.
    return f"projects/{project}/secrets/{secret_id}", {
        "secretId": secret_id, "project": project, "createTime": "2024-01-01T00:00:00Z",
        "name": f"projects/{project_number(project)}/secrets/{secret_id}"}


def _secret_version(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    secret = str(inputs.get("secret", ""))
    path = f"projects/{project_number(project_of({}))}/secrets/{_last(secret)}/versions/1"
    return path, {"name": path, "version": "1", "enabled": True, "createTime": "2024-01-01T00:00:00Z"}


def _job(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    project = project_of(inputs)
    region = region_of(inputs, "region")
    job = inputs.get("name") or autoname(name)
    return f"projects/{project}/locations/{region}/jobs/{job}", {
        "name": job, "region": region, "project": project, "state": "ENABLED", "paused": False}


def _api(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    project = project_of(inputs)
    api_id = inputs.get("apiId") or autoname(name)
    return f"projects/{project}/locations/global/apis/{api_id}", {
        "apiId": api_id, "project": project, "name": f"projects/{project}/locations/global/apis/{api_id}",
        "managedService": f"{api_id}-{_hex('managed', api_id, length=13)}.apigateway.{project}.cloud.goog",
        "createTime": "2024-01-01T00:00:00Z"}


def _api_config(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    project = project_of(inputs)
    api = _last(inputs.get("api", ""))
    config_id = inputs.get("apiConfigId") or (inputs.get("apiConfigIdPrefix") or "config-") + _digits(
        "config", name, length=26)
    path = f"projects/{project}/locations/global/apis/{api}/configs/{config_id}"
    return path, {"apiConfigId": config_id, "name": path, "project": project,
                  "serviceConfigId": f"{config_id}-{_hex('svc', config_id, length=12)}"}


def _gateway(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    project = project_of(inputs)
    region = region_of(inputs, "region")
    gateway_id = inputs.get("gatewayId") or autoname(name)
    hostname = f"{gateway_id}-{_hex('gw', project, gateway_id, length=8)}.{REGION_CODES.get(region, 'uc')}.gateway.dev"
    return f"projects/{project}/locations/{region}/gateways/{gateway_id}", {
        "gatewayId": gateway_id, "region": region, "project": project, "defaultHostname": hostname,
        "name": f"projects/{project}/locations/{region}/gateways/{gateway_id}"}


def _repository(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    project = project_of(inputs)
    region = region_of(inputs)
    repo = inputs.get("repositoryId") or autoname(name)
    return f"projects/{project}/locations/{region}/repositories/{repo}", {
        "name": repo, "project": project, "location": region, "createTime": "2024-01-01T00:00:00Z"}


def _iam_member(scope_key: str) -> Callable[[str, dict[str, Any]], tuple[str, dict[str, Any]]]:
    def state(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        scope = inputs.get(scope_key) or project_of(inputs)
        return f"{scope}/{inputs.get('role')}/{inputs.get('member')}", {"etag": "BwY" + _hex("etag", name, length=9)}
    return state


def _uuid(*parts: str) -> str:
    h = _hex(*parts, length=32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


STATES: dict[str, Callable[[str, dict[str, Any]], tuple[str, dict[str, Any]]]] = {
    "gcp:storage/bucket:Bucket": _bucket,
    "gcp:storage/bucketObject:BucketObject": _bucket_object,
    "gcp:projects/service:Service": _service,
    "gcp:projects/serviceIdentity:ServiceIdentity": _service_identity,
    "gcp:firestore/database:Database": _database,
    "gcp:firestore/field:Field": _field,
    "gcp:firestore/index:Index": _index,
    "gcp:pubsub/topic:Topic": _topic,
    "gcp:pubsub/subscription:Subscription": _subscription,
    "gcp:serviceaccount/account:Account": _account,
    "gcp:cloudfunctionsv2/function:Function": _function,
    "gcp:secretmanager/secret:Secret": _secret,
    "gcp:secretmanager/secretVersion:SecretVersion": _secret_version,
    "gcp:cloudscheduler/job:Job": _job,
    "gcp:apigateway/api:Api": _api,
    "gcp:apigateway/apiConfig:ApiConfig": _api_config,
    "gcp:apigateway/gateway:Gateway": _gateway,
    "gcp:pubsub/topicIAMMember:TopicIAMMember": _iam_member("topic"),
    "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember": _iam_member("subscription"),
    "gcp:secretmanager/secretIamMember:SecretIamMember": _iam_member("secretId"),
    "gcp:projects/iAMMember:IAMMember": _iam_member("project"),
    "gcp:cloudrunv2/serviceIamMember:ServiceIamMember": _iam_member("name"),
    "gcp:serviceaccount/iAMMember:IAMMember": _iam_member("serviceAccountId"),
    "gcp:artifactregistry/repository:Repository": _repository,
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": _iam_member("repository"),
    "gcp:storage/bucketIAMMember:BucketIAMMember": _iam_member("bucket"),
}


def state(type_: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(id, state) of a resource of `type_` registered as `name` with resolved `inputs`."""
    handler = STATES.get(type_)
    if handler is None:
        return f"{name}-id", dict(inputs)
    resource_id, computed = handler(name, inputs)
    return resource_id, {**inputs, **computed}


def call(token: str, args: dict[str, Any]) -> dict[str, Any]:
    """Results of data-source invokes (getProject, getClientConfig)."""
    if token == "gcp:organizations/getProject:getProject":
        project = args.get("projectId") or project_of({})
        return {"id": f"projects/{project}", "projectId": project, "number": project_number(project),
                "name": project, "labels": {}, "autoCreateNetwork": True}
    if token == "gcp:organizations/getClientConfig:getClientConfig":
        project = project_of({})
        return {"id": project, "project": project, "region": region_of({}), "zone": f"{region_of({})}-a",
                "accessToken": "mock-access-token"}
    return {}
