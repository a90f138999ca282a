"""Azure provider: the shared contract plus what matters on Azure (Service Bus delivery and locks,
SQL filters, NCRONTAB, Key Vault RBAC, scoped data-plane roles, prod backups, Flex memory)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import uuid
from pathlib import Path

import pytest

from omnicloud.mockstate import azure as azure_state
from omnicloud.preview import PreviewResource, PreviewResult
from runtime.links import resolve
from tests.providers.contract import ROOT, CloudHooks, Grant, ProviderContract, preview

FILTER_APP = str(ROOT / "tests" / "providers" / "apps" / "azure_filter" / "app.yaml")
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
COSMOS_ASSIGNMENT = "azure-native:cosmosdb:TableResourceTableRoleAssignment"
LOCK = "azure-native:authorization:ManagementLockByScope"

# Azure's built-in role ids, written out here independently of the provider.
STORAGE_TABLE_READER = "76199698-9eea-4c19-bc75-cec21354c6b6"
STORAGE_TABLE_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
BUS_SENDER = "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39"
BUS_RECEIVER = "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0"
SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
BLOB_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
COSMOS_READER = "00000000-0000-0000-0000-000000000001"
COSMOS_CONTRIBUTOR = "00000000-0000-0000-0000-000000000002"
OWNER = "8e3af657-a8ff-4c61-bd31-8a1b6ab3a7f2"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
USER_ACCESS_ADMIN = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
SECRET_SIG = "4dabf18193072939515e22adb298388d"  # Pulumi's marker of a secret value on the wire
LINK_ROLES = {STORAGE_TABLE_READER, STORAGE_TABLE_CONTRIBUTOR, BUS_SENDER, SECRETS_USER, COSMOS_READER,
              COSMOS_CONTRIBUTOR}


def arm_id(resource: PreviewResource) -> str:
    """The ARM id Azure gives this resource (as the preview's mock state computes it)."""
    return azure_state.state(resource.type, resource.name, resource.props)[0]


def outputs(resource: PreviewResource) -> dict:
    return azure_state.state(resource.type, resource.name, resource.props)[1]


def component(result: PreviewResult, kind: str, logical: str) -> PreviewResource:
    return result.by_name(logical, f"omnicloud:index:{kind}")


def native(result: PreviewResult, kind: str, logical: str, type_: str) -> PreviewResource:
    found = [c for c in result.children(component(result, kind, logical).urn) if c.type == type_]
    assert len(found) == 1, f"{kind} {logical}: {len(found)} {type_}"
    return found[0]


def function_child(result: PreviewResult, fn: str, type_: str, name: str | None = None) -> PreviewResource:
    found = [c for c in result.children(component(result, "Function", fn).urn)
             if c.type == type_ and (name is None or c.name == name)]
    assert len(found) == 1, f"function {fn}: {len(found)} {type_} {name or ''}"
    return found[0]


def web_app(result: PreviewResult, fn: str) -> PreviewResource:
    return function_child(result, fn, "azure-native:web:WebApp")


def app_settings(result: PreviewResult, fn: str) -> dict[str, str]:
    return {s["name"]: s["value"] for s in web_app(result, fn).props["siteConfig"]["appSettings"]}


def role_guid(assignment: PreviewResource) -> str:
    return assignment.props["roleDefinitionId"].rsplit("/", 1)[-1]


def assignments(result: PreviewResult) -> list[PreviewResource]:
    return result.of_type(ROLE_ASSIGNMENT) + result.of_type(COSMOS_ASSIGNMENT)


def principals(result: PreviewResult) -> dict[str, str]:
    """principal id -> function, from each function's own user-assigned identity."""
    found = {}
    for fn in result.of_type("omnicloud:index:Function"):
        identity = function_child(result, fn.name, "azure-native:managedidentity:UserAssignedIdentity")
        found[outputs(identity)["principalId"]] = fn.name
    return found


class AzureHooks(CloudHooks):
    cloud = "azure"

    def grants(self, result: PreviewResult) -> list[Grant]:
        """The link grants: every data-plane role given to a function's identity, except the
        trigger's receive role and the Functions host's own storage (tested separately below)."""
        owner = principals(result)
        found = []
        for ra in assignments(result):
            if ra.type == ROLE_ASSIGNMENT and role_guid(ra) in (BUS_RECEIVER, BLOB_OWNER):
                continue
            found.append(Grant(function=owner[ra.props["principalId"]], actions=(role_guid(ra),),
                               resource=ra.props["scope"]))
        return found

    def resource_ref(self, result: PreviewResult, kind: str, logical: str) -> str:
        if kind == "table":
            cosmos = [c for c in result.children(component(result, "Table", logical).urn)
                      if c.type == "azure-native:cosmosdb:TableResourceTable"]
            if cosmos:
                account = result.by_name(f"{result_app(result)}-tables", "azure-native:cosmosdb:DatabaseAccount")
                return f"{arm_id(account)}/dbs/TablesDB/colls/{cosmos[0].props['tableName']}"
            return arm_id(native(result, "Table", logical, "azure-native:storage:Table"))
        type_ = {"queue": "azure-native:servicebus:Queue", "topic": "azure-native:servicebus:Topic",
                 "secret": "azure-native:keyvault:Secret"}[kind]
        return arm_id(native(result, kind.capitalize(), logical, type_))

    def max_deliveries(self, result: PreviewResult, queue: str) -> int:
        return int(native(result, "Queue", queue, "azure-native:servicebus:Queue").props["maxDeliveryCount"])

    def subscriber_deliveries(self, result: PreviewResult, function: str) -> int:
        return int(function_child(result, function, "azure-native:servicebus:Subscription").props["maxDeliveryCount"])

    def stateful_resources(self, result: PreviewResult) -> list:
        data = [c for kind in ("Table", "Queue", "Topic", "Secret")
                for comp in result.of_type(f"omnicloud:index:{kind}") for c in result.children(comp.urn)
                if c.custom and c.type != LOCK]
        shared = [r for r in result.resources if r.type in (
            "azure-native:storage:StorageAccount", "azure-native:servicebus:Namespace", "azure-native:keyvault:Vault",
            "azure-native:cosmosdb:DatabaseAccount")]
        return data + shared


def result_app(result: PreviewResult) -> str:
    return result.of_type("omnicloud:index:App")[0].name


class TestAzureContract(ProviderContract, AzureHooks):
    pass


# -- Service Bus ---------------------------------------------------------------------------------

def test_queue_locks_and_expiry_follow_the_spec():
    dev = preview("azure")
    queue = native(dev, "Queue", "task-queue", "azure-native:servicebus:Queue").props
    # visibility_timeout unset: 6 x the worker's 300 s, longer than Service Bus's 5-minute lock: the
    # lock is 5 minutes and the consumer's host renews it for the full 30.
    assert queue["lockDuration"] == "PT5M"
    assert app_settings(dev, "worker")["AzureFunctionsJobHost__extensions__serviceBus__maxAutoLockRenewalDuration"] \
        == "00:30:00"
    assert queue["deadLetteringOnMessageExpiration"] is True
    assert queue["defaultMessageTimeToLive"] == "P4D"  # the default retention, 345600 s

    relay = preview("azure", app=FILTER_APP)
    jobs = native(relay, "Queue", "jobs", "azure-native:servicebus:Queue").props
    assert (jobs["lockDuration"], jobs["maxDeliveryCount"], jobs["defaultMessageTimeToLive"]) == ("PT2M", 6, "P1D")
    once = native(relay, "Queue", "long-jobs", "azure-native:servicebus:Queue").props
    assert (once["lockDuration"], once["maxDeliveryCount"]) == ("PT5M", 1)
    assert app_settings(relay, "slow")["AzureFunctionsJobHost__extensions__serviceBus__maxAutoLockRenewalDuration"] \
        == "00:10:00"


def test_filtered_subscriber_replaces_the_default_true_filter():
    relay = preview("azure", app=FILTER_APP)
    # ARM creates `$Default` (TrueFilter) with every subscription; an added rule would be OR-ed with it.
    assert relay.of_type("azure-native:servicebus:Rule") == []
    rule = function_child(relay, "alerts", "azure-native:servicebus:DefaultRule")
    assert rule.props["filterType"] == "SqlFilter"
    assert rule.props["sqlFilter"]["sqlExpression"] == "region = 'eu' AND type IN ('task.succeeded', 'task.failed')"
    subscription = function_child(relay, "alerts", "azure-native:servicebus:Subscription")
    assert rule.props["subscriptionName"] == subscription.props["subscriptionName"] == "alerts"
    assert rule.props["topicName"] == subscription.props["topicName"] == outputs(
        native(relay, "Topic", "events", "azure-native:servicebus:Topic"))["name"]
    # The unfiltered subscriber keeps the TrueFilter: no rule resource at all.
    assert [c for c in result_children(relay, "archive") if "Rule" in c.type] == []


def result_children(result: PreviewResult, fn: str) -> list[PreviewResource]:
    return result.children(component(result, "Function", fn).urn)


def test_subscriptions_dead_letter_after_retries_and_lock_for_the_function_timeout():
    relay = preview("azure", app=FILTER_APP)
    alerts = function_child(relay, "alerts", "azure-native:servicebus:Subscription").props
    archive = function_child(relay, "archive", "azure-native:servicebus:Subscription").props
    assert alerts["subscriptionName"] == "alerts" and archive["subscriptionName"] == "archive"
    assert alerts["maxDeliveryCount"] == 10  # max_retries: 9
    assert archive["maxDeliveryCount"] == 4  # 3 retries by default
    assert alerts["lockDuration"] == "PT30S" and archive["lockDuration"] == "PT30S"  # timeouts 20 and 30 s
    assert alerts["deadLetteringOnMessageExpiration"] is True


def test_triggered_functions_find_their_source_and_may_only_receive_from_it():
    relay = preview("azure", app=FILTER_APP)
    namespace = outputs(relay.of_type("azure-native:servicebus:Namespace")[0])["name"]
    quick = app_settings(relay, "quick")
    jobs = native(relay, "Queue", "jobs", "azure-native:servicebus:Queue")
    assert quick["OMNICLOUD_TRIGGER_QUEUE"] == outputs(jobs)["name"]
    assert quick["ServiceBusConnection__fullyQualifiedNamespace"] == f"{namespace}.servicebus.windows.net"
    assert quick["ServiceBusConnection__credential"] == "managedidentity"
    identity = outputs(function_child(relay, "quick", "azure-native:managedidentity:UserAssignedIdentity"))
    assert quick["ServiceBusConnection__clientId"] == identity["clientId"]

    alerts = app_settings(relay, "alerts")
    subscription = function_child(relay, "alerts", "azure-native:servicebus:Subscription")
    assert alerts["OMNICLOUD_TRIGGER_TOPIC"] == outputs(native(relay, "Topic", "events",
                                                                "azure-native:servicebus:Topic"))["name"]
    assert alerts["OMNICLOUD_TRIGGER_SUBSCRIPTION"] == "alerts"

    owner = principals(relay)
    receivers = {(owner[ra.props["principalId"]], ra.props["scope"])
                 for ra in relay.of_type(ROLE_ASSIGNMENT) if role_guid(ra) == BUS_RECEIVER}
    assert receivers == {
        ("quick", arm_id(jobs)),
        ("slow", arm_id(native(relay, "Queue", "long-jobs", "azure-native:servicebus:Queue"))),
        ("alerts", arm_id(subscription)),
        ("archive", arm_id(function_child(relay, "archive", "azure-native:servicebus:Subscription"))),
    }


# -- schedules, memory, warm instances -------------------------------------------------------------

def test_schedules_become_ncrontab_with_seconds():
    assert app_settings(preview("azure"), "sweeper")["OMNICLOUD_SCHEDULE"] == "0 */5 * * * *"
    assert app_settings(preview("azure", app=FILTER_APP), "nightly")["OMNICLOUD_SCHEDULE"] == "0 0 3 * * 1-5"
    assert "OMNICLOUD_SCHEDULE" not in app_settings(preview("azure"), "api")


def flex(result: PreviewResult, fn: str) -> dict:
    return web_app(result, fn).props["functionAppConfig"]


def test_flex_consumption_rounds_memory_and_prod_overrides_it():
    dev, prod = preview("azure"), preview("azure", "prod")
    memory = {fn: flex(dev, fn)["scaleAndConcurrency"]["instanceMemoryMB"] for fn in ("api", "notifier")}
    assert memory == {"api": 512, "notifier": 512}  # 512 stays; the 256 MB default rounds up
    # Pulumi.prod.yaml sets api memory 1024, which Flex Consumption only offers as 2048.
    assert flex(prod, "api")["scaleAndConcurrency"]["instanceMemoryMB"] == 2048
    assert flex(dev, "api")["runtime"] == {"name": "python", "version": "3.11"}
    plan = function_child(dev, "api", "azure-native:web:AppServicePlan").props
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"} and plan["reserved"] is True
    assert web_app(dev, "api").props["kind"] == "functionapp,linux"


def test_min_instances_become_always_ready_instances():
    assert flex(preview("azure", "prod"), "api")["scaleAndConcurrency"]["alwaysReady"] == [
        {"name": "http", "instanceCount": 1}]
    assert "alwaysReady" not in flex(preview("azure"), "api")["scaleAndConcurrency"]
    assert flex(preview("azure", app=FILTER_APP), "intake")["scaleAndConcurrency"]["alwaysReady"] == [
        {"name": "http", "instanceCount": 2}]


def test_each_function_has_its_own_identity_and_deploys_its_package():
    dev = preview("azure")
    identities = set()
    for fn in ("api", "worker", "notifier", "sweeper"):
        app = web_app(dev, fn).props
        identity = function_child(dev, fn, "azure-native:managedidentity:UserAssignedIdentity")
        assert app["identity"] == {"type": "UserAssigned", "userAssignedIdentities": [arm_id(identity)]}
        identities.add(arm_id(identity))
        settings = app_settings(dev, fn)
        assert settings["AZURE_CLIENT_ID"] == settings["AzureWebJobsStorage__clientId"] == outputs(identity)["clientId"]
        assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
        assert settings["APPLICATIONINSIGHTS_CONNECTION_STRING"].startswith("InstrumentationKey=")

        blob = function_child(dev, fn, "azure-native:storage:Blob").props
        package = Path(blob["source"]["asset"])
        sha = hashlib.sha256(package.read_bytes()).hexdigest()
        assert blob["blobName"] == "released-package.zip"
        assert sha[:16] in blob["containerName"]
        storage = app["functionAppConfig"]["deployment"]["storage"]
        assert storage["value"].endswith(f".blob.core.windows.net/{blob['containerName']}")
        assert storage["authentication"] == {"type": "UserAssignedIdentity",
                                             "userAssignedIdentityResourceId": arm_id(identity)}
    assert len(identities) == 4


def test_links_resolve_to_the_physical_resources():
    dev = preview("azure")
    settings = app_settings(dev, "api")
    account = outputs(dev.of_type("azure-native:storage:StorageAccount")[0])["name"]
    table = resolve("tasks", "table", "write", environ=settings)
    tasks = native(dev, "Table", "tasks", "azure-native:storage:Table").props
    assert table.props == {"endpoint": f"https://{account}.table.core.windows.net", "name": tasks["tableName"],
                           "partition_key": "pk", "sort_key": "sk", "ttl": "expires_at"}
    assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]{2,62}", tasks["tableName"])
    namespace = outputs(dev.of_type("azure-native:servicebus:Namespace")[0])["name"]
    queue = resolve("task-queue", "queue", "send", environ=settings)
    assert queue.props == {"namespace": f"{namespace}.servicebus.windows.net",
                           "name": outputs(native(dev, "Queue", "task-queue", "azure-native:servicebus:Queue"))["name"]}
    vault = outputs(dev.of_type("azure-native:keyvault:Vault")[0])["name"]
    secret = resolve("jwt-secret", "secret", "read", environ=settings)
    assert secret.props == {"vault_url": f"https://{vault}.vault.azure.net/", "name": "jwt-secret"}


def test_hyphenated_table_names_lose_the_hyphen():
    relay = preview("azure", app=FILTER_APP)
    name = native(relay, "Table", "audit-log", "azure-native:storage:Table").props["tableName"]
    assert name.startswith("relayauditlog") and name.isalnum()


# -- least privilege -----------------------------------------------------------------------------

@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_owner_contributor_or_broad_scope_anywhere(stack):
    result = preview("azure", stack)
    text = json.dumps(result.as_json())
    for forbidden in (OWNER, CONTRIBUTOR, USER_ACCESS_ADMIN):
        assert forbidden not in text
    ids = {arm_id(r) for r in result.resources if r.custom}
    for ra in assignments(result):
        scope = ra.props["scope"]
        assert not re.fullmatch(r"/subscriptions/[^/]+(/resourceGroups/[^/]+)?/?", scope), scope
        # Each role sits on exactly one resource of this app (or one Cosmos table below its account).
        assert scope in ids or (ra.type == COSMOS_ASSIGNMENT and scope.rsplit("/dbs/", 1)[0] in ids), scope
        assert role_guid(ra) in LINK_ROLES | {BUS_RECEIVER, BLOB_OWNER}
    # The Functions host's blob role is on the app's storage account only.
    account = arm_id(result.of_type("azure-native:storage:StorageAccount")[0])
    assert {ra.props["scope"] for ra in result.of_type(ROLE_ASSIGNMENT) if role_guid(ra) == BLOB_OWNER} == {account}


def test_link_verbs_map_to_the_narrowest_role():
    dev = preview("azure")
    refs = AzureHooks()
    granted = {(g.function, g.resource): g.actions for g in refs.grants(dev)}
    assert granted[("worker", refs.resource_ref(dev, "table", "agents"))] == (STORAGE_TABLE_READER,)
    assert granted[("worker", refs.resource_ref(dev, "table", "tasks"))] == (STORAGE_TABLE_CONTRIBUTOR,)
    assert granted[("api", refs.resource_ref(dev, "queue", "task-queue"))] == (BUS_SENDER,)
    assert granted[("api", refs.resource_ref(dev, "topic", "events"))] == (BUS_SENDER,)
    assert granted[("api", refs.resource_ref(dev, "secret", "jwt-secret"))] == (SECRETS_USER,)
    prod = preview("azure", "prod")
    granted = {(g.function, g.resource): g.actions for g in refs.grants(prod)}
    assert granted[("notifier", refs.resource_ref(prod, "table", "agents"))] == (COSMOS_READER,)
    assert granted[("sweeper", refs.resource_ref(prod, "table", "tasks"))] == (COSMOS_CONTRIBUTOR,)


def assignment_name(ra: PreviewResource) -> str:
    return ra.props.get("roleAssignmentName") or ra.props.get("roleAssignmentId")


def test_role_assignment_names_are_guids_of_scope_principal_and_role():
    from providers.azure import arm_guid

    for stack in ("dev", "prod"):
        found = assignments(preview("azure", stack))
        names = [assignment_name(ra) for ra in found]
        assert all(str(uuid.UUID(n)) == n for n in names)
        assert len(set(names)) == len(names)
        for ra in found:
            # Bicep's guid(scope, principalId, roleDefinitionId): a changed principal (a replaced
            # identity) or scope is a new assignment name, never an update Azure rejects.
            assert assignment_name(ra) == arm_guid(ra.props["scope"], ra.props["principalId"],
                                                   ra.props["roleDefinitionId"]), ra.name
            assert assignment_name(ra) != arm_guid(ra.props["scope"], str(uuid.uuid4()), ra.props["roleDefinitionId"])


# -- shared resources and prod protection ---------------------------------------------------------

def test_key_vault_uses_rbac_with_soft_delete_and_prod_purge_protection():
    dev = preview("azure").of_type("azure-native:keyvault:Vault")[0].props["properties"]
    prod = preview("azure", "prod").of_type("azure-native:keyvault:Vault")[0].props["properties"]
    for vault in (dev, prod):
        assert vault["enableRbacAuthorization"] is True and vault["enableSoftDelete"] is True
        assert not vault.get("accessPolicies")
    assert prod["enablePurgeProtection"] is True
    assert "enablePurgeProtection" not in dev


def test_storage_account_is_private_and_modern():
    account = preview("azure").of_type("azure-native:storage:StorageAccount")[0].props
    assert account["kind"] == "StorageV2"
    assert account["enableHttpsTrafficOnly"] is True
    assert account["minimumTlsVersion"] == "TLS1_2"
    assert account["allowBlobPublicAccess"] is False
    namespace = preview("azure").of_type("azure-native:servicebus:Namespace")[0].props
    assert namespace["sku"]["name"] == "Standard"  # topics need Standard
    assert namespace["disableLocalAuth"] is True


def test_prod_tables_get_point_in_time_restore_and_a_delete_lock():
    prod, dev = preview("azure", "prod"), preview("azure")
    account = prod.by_name("agents-tables", "azure-native:cosmosdb:DatabaseAccount")
    assert account.props["capabilities"] == [{"name": "EnableTable"}]
    assert account.props["backupPolicy"]["type"] == "Continuous"
    assert account.protect and account.retain_on_delete
    for table in ("agents", "tasks"):
        assert native(prod, "Table", table, "azure-native:cosmosdb:TableResourceTable").protect
    # Dev: plain Storage Tables, no backups to pay for, nothing locked.
    assert dev.of_type("azure-native:cosmosdb:DatabaseAccount") == []
    assert dev.of_type("azure-native:authorization:ManagementLockByScope") == []
    assert not native(dev, "Table", "agents", "azure-native:storage:Table").protect


def global_names(result: PreviewResult) -> tuple:
    return (result.of_type("azure-native:storage:StorageAccount")[0].props["accountName"],
            result.of_type("azure-native:keyvault:Vault")[0].props["vaultName"],
            tuple(web_app(result, fn).props["name"] for fn in ("api", "worker", "notifier", "sweeper")),
            result.of_type("azure-native:apimanagement:ApiManagementService")[0].props["serviceName"],
            result.of_type("azure-native:cosmosdb:DatabaseAccount")[0].props["accountName"]
            if result.of_type("azure-native:cosmosdb:DatabaseAccount") else None)


def test_global_names_are_legal_and_end_in_the_deployments_random_suffix():
    dev, prod = preview("azure"), preview("azure", "prod")
    storage, vault, apps, apim, _ = global_names(dev)
    assert re.fullmatch(r"[a-z0-9]{3,24}", storage)
    assert re.fullmatch(r"[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]", vault) and "--" not in vault
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9-]{0,58}[a-z0-9]", a) for a in apps) and len(set(apps)) == 4
    assert re.fullmatch(r"[a-zA-Z][a-zA-Z0-9-]{0,48}[a-zA-Z0-9]", apim)
    assert re.fullmatch(r"[a-z0-9-]{3,44}", global_names(prod)[4])
    for result in (dev, prod):
        (suffix,) = result.of_type("random:index/randomString:RandomString")
        drawn = outputs_random(suffix)
        assert (suffix.props["length"], suffix.props["special"], suffix.props["upper"]) == (8, False, False)
        # Kept in the stack's state, redrawn when the resource group is replaced.
        group = result.of_type("azure-native:resources:ResourceGroup")[0]
        assert suffix.props["keepers"] == {"resource_group": outputs(group)["name"]}
        names = global_names(result)
        assert all(name.endswith(drawn) for name in (*names[:2], *names[2], names[3]) + names[4:] if name)
    assert not set(global_names(prod)[2]) & set(apps) and global_names(prod)[0] != storage


def outputs_random(resource: PreviewResource) -> str:
    return resource.outputs["result"]


def test_a_new_deployment_gets_new_global_names_and_replacements_create_first(monkeypatch):
    """Both soft-delete paths. `pulumi destroy` then `pulumi up` is a new deployment: a new draw of
    the suffix (the mock's DEPLOYMENT stands in for the randomness), so no name a soft-deleted
    vault or API Management service still holds is reused. A replacement (a new resource group or
    location redraws the suffix) creates the new vault and service first: no delete_before_replace."""
    from omnicloud.preview import run_preview

    first = global_names(preview("azure", "prod"))
    assert global_names(run_preview(ROOT, "azure", "prod")) == first  # every `pulumi up` of the stack
    monkeypatch.setattr(azure_state, "DEPLOYMENT", "after-destroy")
    again = global_names(run_preview(ROOT, "azure", "prod"))
    assert again[0] != first[0] and again[1] != first[1] and again[3] != first[3] and again[4] != first[4]
    assert not set(again[2]) & set(first[2])
    for result in (preview("azure"), preview("azure", "prod")):
        for type_ in ("azure-native:keyvault:Vault", "azure-native:apimanagement:ApiManagementService"):
            (resource,) = result.of_type(type_)
            assert not resource.delete_before_replace, type_


def test_a_stack_recovers_its_soft_deleted_vault_and_gateway_under_their_old_names(tmp_path):
    """The recover path: a stack pinning the deleted deployment's suffix names everything as it was;
    with azure_recover the vault is created in "recover" mode and API Management with restore, and
    the program warns to remove azure_recover afterwards. Without it, the same names deploy plainly."""
    from omnicloud.preview import run_preview

    stack = (ROOT / "Pulumi.dev.yaml").read_text() + "  omnicloud:azure_suffix: k3x9q2mz\n"
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copy(ROOT / "__main__.py", tmp_path / "__main__.py")
    results = []
    for extra in ("  omnicloud:azure_recover: [key-vault, api-management]\n", ""):
        (tmp_path / "Pulumi.dev.yaml").write_text(stack + extra)
        results.append(run_preview(tmp_path, "azure", "dev", app=str(ROOT / "app.yaml")))
    recovering, after = results
    for result in results:
        assert result.of_type("random:index/randomString:RandomString") == []
        storage, vault, apps, apim, _ = global_names(result)
        assert all(name.endswith("k3x9q2mz") for name in (storage, vault, *apps, apim))
    assert global_names(recovering) == global_names(after)
    (vault,) = recovering.of_type("azure-native:keyvault:Vault")
    (service,) = recovering.of_type("azure-native:apimanagement:ApiManagementService")
    assert vault.props["properties"]["createMode"] == "recover" and service.props["restore"] is True
    assert any("omnicloud:azure_recover is set" in w and "remove" in w for w in recovering.warnings)
    (vault,) = after.of_type("azure-native:keyvault:Vault")
    (service,) = after.of_type("azure-native:apimanagement:ApiManagementService")
    assert "createMode" not in vault.props["properties"] and service.props.get("restore") is not True
    assert not any("azure_recover" in w for w in after.warnings)


def test_every_taggable_resource_carries_the_stack_tags():
    import importlib
    import inspect

    dev = preview("azure")
    checked = 0
    for r in dev.resources:
        if not r.type.startswith("azure-native:"):
            continue
        _, module, cls = r.type.split(":")
        args = getattr(importlib.import_module(f"pulumi_azure_native.{module}"), f"{cls}Args")
        tags = inspect.signature(args.__init__).parameters.get("tags")
        if tags is not None and "Mapping" in str(tags.annotation):  # named values take a list
            assert r.props.get("tags") == {"omnicloud-app": "agents", "omnicloud-stack": "dev",
                                           "managed-by": "omnicloud"}, r.name
            checked += 1
    assert checked > 10


# -- HTTP ----------------------------------------------------------------------------------------

def test_api_management_forwards_each_prefix_to_its_function_app():
    dev = preview("azure")
    service = dev.of_type("azure-native:apimanagement:ApiManagementService")[0]
    assert service.props["sku"] == {"name": "Consumption", "capacity": 0}
    assert dev.outputs["url"] == outputs(service)["gatewayUrl"]
    api = dev.by_name("http-api", "azure-native:apimanagement:Api").props
    host = outputs(web_app(dev, "api"))["defaultHostName"]
    assert (api["path"], api["serviceUrl"], api["subscriptionRequired"]) == ("", f"https://{host}", False)
    operations = [op.props for op in dev.of_type("azure-native:apimanagement:ApiOperation")]
    assert {op["method"] for op in operations} >= {"GET", "POST", "PUT", "PATCH", "DELETE"}
    assert {op["urlTemplate"] for op in operations} == {"/*"}

    relay = preview("azure", app=FILTER_APP)
    hooks = relay.by_name("http-intake", "azure-native:apimanagement:Api").props
    host = outputs(web_app(relay, "intake"))["defaultHostName"]
    # APIM strips the API path; the backend URL puts it back so the function sees /hooks/...
    assert (hooks["path"], hooks["serviceUrl"]) == ("hooks", f"https://{host}/hooks")


# -- secrets ------------------------------------------------------------------------------------

def test_secret_takes_its_value_from_stack_config(tmp_path):
    from omnicloud.preview import run_preview

    stack = (ROOT / "Pulumi.dev.yaml").read_text() + "  omnicloud:jwt-secret: s3cr3t-from-config\n"
    (tmp_path / "Pulumi.dev.yaml").write_text(stack)
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copy(ROOT / "__main__.py", tmp_path / "__main__.py")
    result = run_preview(tmp_path, "azure", "dev", app=str(ROOT / "app.yaml"))
    values = {}
    for r in result.of_type("azure-native:keyvault:Secret"):
        properties = r.props["properties"]
        # The value travels as a Pulumi secret (encrypted in state), never as plain text.
        assert properties.get(SECRET_SIG) == "1b47061264138c4ac30d75fd1eb44270", properties
        values[r.name] = properties["value"]["value"]
    assert values["jwt-secret"] == "s3cr3t-from-config"
    # Without a value yet, the secret still exists (so it can be granted) holding a marker.
    assert values["model-api-key"] == "omnicloud:unset"


# -- issue 10: second-day deployments ------------------------------------------------------------

def test_prod_cosmos_locks_each_table_so_its_role_assignments_stay_changeable():
    prod = preview("azure", "prod")
    account = prod.by_name("agents-tables", "azure-native:cosmosdb:DatabaseAccount")
    locks = prod.of_type(LOCK)
    tables = [native(prod, "Table", t, "azure-native:cosmosdb:TableResourceTable") for t in ("agents", "tasks", "deliveries")]
    assert sorted((lock.props["scope"], lock.props["level"]) for lock in locks) == sorted(
        (arm_id(table), "CanNotDelete") for table in tables)
    # A lock applies to everything below its scope: none may sit on the account (or its resource
    # group), whose tableRoleAssignments must stay deletable when a link or function goes.
    for lock in locks:
        assert lock.props["scope"] != arm_id(account)
        assert lock.props["scope"].startswith(arm_id(account) + "/tables/")
    grants = prod.of_type(COSMOS_ASSIGNMENT)
    assert grants and not any(lock.props["scope"] in arm_id(grant) for grant in grants for lock in locks)


def test_function_apps_sharing_the_storage_account_get_distinct_explicit_host_ids():
    from providers.azure import host_id

    for result in (preview("azure"), preview("azure", app=FILTER_APP)):
        ids = {fn.name: app_settings(result, fn.name)["AzureFunctionsWebHost__hostid"]
               for fn in result.of_type("omnicloud:index:Function")}
        assert len(set(ids.values())) == len(ids)
        for found in ids.values():
            assert re.fullmatch(r"[a-z0-9](?:[a-z0-9]|-(?!-))*[a-z0-9]", found) and len(found) <= 32, found
    # Two names alike in their first 32 characters (the default host ID) still differ.
    long_name = "notify-every-subscriber-about-completed-tasks"
    assert host_id(long_name + "-eu") != host_id(long_name + "-us")
    assert len(host_id(long_name + "-eu")) == 32


def test_every_new_package_changes_an_app_setting_so_the_app_restarts_and_syncs_triggers():
    dev = preview("azure")
    for fn in ("api", "worker", "notifier", "sweeper"):
        blob = function_child(dev, fn, "azure-native:storage:Blob").props
        sha = hashlib.sha256(Path(blob["source"]["asset"]).read_bytes()).hexdigest()
        assert app_settings(dev, fn)["OMNICLOUD_PACKAGE_SHA256"] == sha


def test_http_function_apps_answer_only_requests_carrying_their_key_which_only_apim_holds():
    for result, routes in ((preview("azure"), {"api": ""}), (preview("azure", app=FILTER_APP), {"intake": "hooks"})):
        service = result.of_type("azure-native:apimanagement:ApiManagementService")[0]
        named = {n.props["namedValueId"]: n for n in result.of_type("azure-native:apimanagement:NamedValue")}
        policies = {p.props["apiId"]: p for p in result.of_type("azure-native:apimanagement:ApiPolicy")}
        assert set(named) == {f"{fn}-functions-key" for fn in routes}
        for fn in routes:
            value = named[f"{fn}-functions-key"]
            assert value.props["secret"] is True and value.props["serviceName"] == outputs(service)["name"]
            app_name = outputs(web_app(result, fn))["name"]
            expected = azure_state.call("azure-native:web:listWebAppHostKeys", {"name": app_name})
            assert value.props["value"]["value"] == expected["functionKeys"]["default"]  # a Pulumi secret
            api = result.by_name(f"http-{fn}", "azure-native:apimanagement:Api")
            policy = policies[outputs(api)["name"]].props
            assert policy["format"] == "xml"
            assert '<set-header name="x-functions-key" exists-action="override">' in policy["value"]
            assert f"<value>{{{{{fn}-functions-key}}}}</value>" in policy["value"]


def test_filtered_subscribers_carry_their_filter_to_skip_what_slips_through_before_the_rule():
    relay = preview("azure", app=FILTER_APP)
    assert json.loads(app_settings(relay, "alerts")["OMNICLOUD_TRIGGER_FILTER"]) == {
        "type": ["task.succeeded", "task.failed"], "region": "eu"}
    assert "OMNICLOUD_TRIGGER_FILTER" not in app_settings(relay, "archive")
