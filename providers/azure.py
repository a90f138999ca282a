"""Azure: Function Apps on Flex Consumption, Service Bus, Storage Tables (prod: Cosmos DB for Table),
Key Vault and API Management, with identity-based access scoped to exactly the linked resource."""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import re
import uuid
from typing import Any

import pulumi
import pulumi_azure_native as azure
import pulumi_random as random

from providers.base import Built, DeployContext, FunctionRequest, LinkTarget
from spec.capabilities import deliveries, round_memory
from spec.filters import servicebus_sql
from spec.model import QueueSpec, SecretSpec, TableSpec, TopicSpec
from spec.schedule import Schedule, parse_schedule

# Built-in Azure role definitions (ids are the same in every tenant). Data-plane roles only:
# a function never gets Owner, Contributor or any control-plane role.
ROLES = {
    "table-reader": "76199698-9eea-4c19-bc75-cec21354c6b6",  # Storage Table Data Reader
    "table-contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",  # Storage Table Data Contributor
    "bus-sender": "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39",  # Azure Service Bus Data Sender
    "bus-receiver": "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0",  # Azure Service Bus Data Receiver
    "secrets-user": "4633458b-17de-408a-b874-0445c86b69e6",  # Key Vault Secrets User
    "blob-owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",  # Storage Blob Data Owner (Functions host)
}
# Cosmos DB for Table keeps its own data-plane role definitions inside each account.
COSMOS_ROLES = {
    "table-reader": "00000000-0000-0000-0000-000000000001",  # Cosmos DB Built-in Data Reader
    "table-contributor": "00000000-0000-0000-0000-000000000002",  # Cosmos DB Built-in Data Contributor
}
# Cosmos DB for Table stores every table as a collection of this database (the RBAC scope path).
COSMOS_TABLES_DB = "TablesDB"
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
# A secret the stack has no value for yet gets this value until `pulumi config set --secret`.
UNSET_SECRET = "omnicloud:unset"
_NAMESPACE = uuid.UUID("5b0c8a4e-7f0e-4d8e-9d0c-6f1f3b0e2a11")
# Globally unique names end in a random suffix kept in the stack's state (see `unique_name`).
SUFFIX_LENGTH = 8
# A Functions host ID is at most 32 characters: lowercase letters, digits and dashes.
HOST_ID_MAX = 32
# APIM sends the Function App's host key in the header the Functions host checks.
FUNCTION_KEY_POLICY = """<policies>
  <inbound>
    <base />
    <set-header name="x-functions-key" exists-action="override">
      <value>{{{{{named_value}}}}}</value>
    </set-header>
  </inbound>
  <backend><base /></backend>
  <outbound><base /></outbound>
  <on-error><base /></on-error>
</policies>"""


def arm_guid(*parts: str) -> str:
    """A deterministic GUID of `parts`, as Bicep's guid(): role assignment names follow
    guid(scope, principalId, roleDefinitionId) (learn.microsoft.com/azure/azure-resource-manager/
    bicep/scenarios-rbac: "a GUID that uses the scope, principal ID, and role ID together").
    ARM ids are case-insensitive, so they are lower-cased first."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(part.lower() for part in parts)))


def host_id(logical: str) -> str:
    """An explicit Functions host ID for function `logical`: unique among the apps sharing the
    storage account (a hash of the full name), within 32 characters, no leading/trailing dash."""
    digest = hashlib.sha256(logical.encode()).hexdigest()[:8]
    head = re.sub(r"-+", "-", logical)[: HOST_ID_MAX - len(digest) - 1].strip("-")
    return f"{head}-{digest}"


def iso_duration(seconds: int) -> str:
    """ISO-8601 duration as Service Bus takes it: 360 -> PT6M, 345600 -> P4D."""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    time = "".join(f"{v}{u}" for v, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if v)
    return "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "") if (days or time) else "PT0S"


def _clock(seconds: int) -> str:
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def _alnum(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


class AzureProvider:
    cloud = "azure"

    def __init__(self, ctx: DeployContext) -> None:
        self.ctx = ctx
        self.suffix: pulumi.Output[str] | None = None

    # -- names -------------------------------------------------------------------------------

    def _hash(self, *parts: str) -> str:
        return hashlib.sha256("/".join((self.ctx.app.name, self.ctx.stack, *parts)).encode()).hexdigest()

    def unique_name(self, base: str, max_len: int, *, sep: str = "-") -> pulumi.Output[str]:
        """A globally unique physical name: `base` cut to fit, then this deployment's suffix.

        Storage accounts, Key Vaults, API Management services, Function Apps and Cosmos accounts
        need names no other Azure customer uses. A hash of app and stack is the same for every
        team that deploys `agents`/`dev`; the suffix is random instead, drawn once per deployment
        and kept in the stack's state like Pulumi's own auto-names
        (pulumi.com/docs/iac/concepts/resources/names), so every `pulumi up` of the stack keeps it.
        It is redrawn when the resource group is replaced, and a stack created again after
        `pulumi destroy` draws a new one: Key Vault keeps a deleted vault's name for its
        soft-delete retention (learn.microsoft.com/azure/key-vault/general/soft-delete-overview) and
        API Management a deleted service's for 48 hours (learn.microsoft.com/azure/api-management/
        soft-delete), so a name must never be reused by the next deployment.
        """
        assert self.suffix is not None, "setup() draws the suffix first"
        head = base[: max_len - SUFFIX_LENGTH - len(sep)].rstrip("-")
        return self.suffix.apply(lambda suffix: f"{head}{sep}{suffix}")

    # -- shared resources --------------------------------------------------------------------

    def setup(self, parent: pulumi.ComponentResource) -> None:
        app = self.ctx.app.name
        child = pulumi.ResourceOptions(parent=parent)
        client = azure.authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=parent))
        self.subscription_id = client.subscription_id
        self.tenant_id = client.tenant_id
        self.group = azure.resources.ResourceGroup(f"{app}-rg", opts=child)
        self.rg_name = self.group.name
        # Lowercase letters and digits: the one alphabet every globally named resource accepts.
        self.suffix = random.RandomString(
            f"{app}-suffix", length=SUFFIX_LENGTH, special=False, upper=False,
            keepers={"resource_group": self.group.name}, opts=child).result

        # Function host state and deployment packages (and, in dev, the tables).
        self.storage = azure.storage.StorageAccount(
            f"{app}-storage",
            account_name=self.unique_name(_alnum(app), 24, sep=""),
            resource_group_name=self.rg_name,
            kind=azure.storage.Kind.STORAGE_V2,
            sku=azure.storage.SkuArgs(name="Standard_ZRS" if self.ctx.prod else "Standard_LRS"),
            enable_https_traffic_only=True,
            minimum_tls_version=azure.storage.MinimumTlsVersion.TLS1_2,
            allow_blob_public_access=False,
            opts=self.ctx.stateful_options(parent, delete_before_replace=True),
        )
        self.storage_name = self.storage.name

        # Standard: topics need it. Local (SAS key) auth off: every client uses its identity.
        self.bus = azure.servicebus.Namespace(
            f"{app}-bus",
            resource_group_name=self.rg_name,
            sku=azure.servicebus.SBSkuArgs(name="Standard", tier="Standard"),
            minimum_tls_version="1.2",
            disable_local_auth=True,
            opts=self.ctx.stateful_options(parent),
        )
        self.bus_host = self.bus.name.apply(lambda n: f"{n}.servicebus.windows.net")

        vault_name = self.unique_name(app, 24)
        # Soft delete keeps a deleted vault (and its name) 7 days in dev, 90 in prod; purge
        # protection (prod) forbids purging it early, and azure-native never purges
        # (github.com/pulumi/pulumi-azure-native/issues/1174). So the vault is never deleted before
        # its replacement exists: a replacement comes with a new suffix, hence a new name, and is
        # created first (no delete_before_replace). Prod retains the vault on `pulumi destroy`;
        # a dev vault stays recoverable (`az keyvault recover`) until its retention ends.
        self.vault = azure.keyvault.Vault(
            f"{app}-vault",
            vault_name=vault_name,
            resource_group_name=self.rg_name,
            properties=azure.keyvault.VaultPropertiesArgs(
                tenant_id=self.tenant_id,
                sku=azure.keyvault.SkuArgs(family="A", name="standard"),
                enable_rbac_authorization=True,
                enable_soft_delete=True,
                soft_delete_retention_in_days=90 if self.ctx.prod else 7,
                # Purge protection cannot be turned off once on, so dev leaves it unset.
                enable_purge_protection=True if self.ctx.prod else None,
            ),
            opts=self.ctx.stateful_options(parent),
        )
        self.vault_url = vault_name.apply(lambda name: f"https://{name}.vault.azure.net/")

        workspace = azure.operationalinsights.Workspace(
            f"{app}-logs",
            resource_group_name=self.rg_name,
            sku=azure.operationalinsights.WorkspaceSkuArgs(name="PerGB2018"),
            retention_in_days=90 if self.ctx.prod else 30,
            opts=child,
        )
        self.insights = azure.applicationinsights.Component(
            f"{app}-insights",
            resource_group_name=self.rg_name,
            kind="web",
            application_type="web",
            workspace_resource_id=workspace.id,
            ingestion_mode="LogAnalytics",
            opts=child,
        )

        self.cosmos = None
        if self.ctx.prod and self.ctx.app.tables:
            self._setup_cosmos(parent)

    def _setup_cosmos(self, parent: pulumi.ComponentResource) -> None:
        # Storage Tables have no point-in-time restore; prod tables live in Cosmos DB for Table
        # (same azure-data-tables client) with continuous backup and a delete lock.
        app = self.ctx.app.name
        self.cosmos = azure.cosmosdb.DatabaseAccount(
            f"{app}-tables",
            account_name=self.unique_name(app, 44),
            resource_group_name=self.rg_name,
            database_account_offer_type=azure.cosmosdb.DatabaseAccountOfferType.STANDARD,
            kind=azure.cosmosdb.DatabaseAccountKind.GLOBAL_DOCUMENT_DB,
            capabilities=[azure.cosmosdb.CapabilityArgs(name="EnableTable")],
            locations=[azure.cosmosdb.LocationArgs(location_name=self.group.location, failover_priority=0)],
            consistency_policy=azure.cosmosdb.ConsistencyPolicyArgs(default_consistency_level="Session"),
            backup_policy=azure.cosmosdb.ContinuousModeBackupPolicyArgs(
                type="Continuous",
                continuous_mode_properties=azure.cosmosdb.ContinuousModePropertiesArgs(tier="Continuous30Days"),
            ),
            disable_local_auth=True,
            disable_key_based_metadata_write_access=True,
            minimal_tls_version="Tls12",
            opts=self.ctx.stateful_options(parent, delete_before_replace=True),
        )

    def transformation(self, args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        """Stack-wide tags on every azure-native resource whose arguments take a `tags` map (API
        Management named values take a list of strings there instead)."""
        if not args.type_.startswith("azure-native:") or not _takes_tag_map(type(args.resource)):
            return None
        props = args.props
        fields = props.__dict__ if not isinstance(props, dict) else props
        if "tags" not in fields:
            return None
        fields["tags"] = {**self.ctx.tags(), **(fields.get("tags") or {})}
        return pulumi.ResourceTransformationResult(props, args.opts)

    # -- data resources ----------------------------------------------------------------------

    def table(self, parent: pulumi.ComponentResource, logical: str, spec: TableSpec) -> Built:
        # Storage table names are 3-63 letters and digits starting with a letter (as app names
        # do): hyphens go, a short hash keeps `audit-log` and `auditlog` apart.
        physical = f"{_alnum(self.ctx.app.name + logical)[:55]}{self._hash('table', logical)[:8]}"
        keys = {"partition_key": spec.partition_key, "sort_key": spec.sort_key, "ttl": spec.ttl}
        if self.cosmos is not None:
            table = azure.cosmosdb.TableResourceTable(
                logical,
                account_name=self.cosmos.name,
                resource_group_name=self.rg_name,
                table_name=physical,
                resource=azure.cosmosdb.TableResourceArgs(id=physical),
                options=azure.cosmosdb.CreateUpdateOptionsArgs(
                    autoscale_settings=azure.cosmosdb.AutoscaleSettingsArgs(max_throughput=1000)),
                opts=self.ctx.stateful_options(parent, delete_before_replace=True),
            )
            # The delete lock is on each table, not on the account: a lock applies to everything
            # below its scope (learn.microsoft.com/azure/cosmos-db/resource-locks), and the account
            # also holds the tables' role assignments (tableRoleAssignments), which must stay
            # deletable so a removed link or function can be deployed.
            azure.authorization.ManagementLockByScope(
                f"{logical}-lock",
                scope=table.id,
                level="CanNotDelete",
                notes="omnicloud prod: this table is deletion-protected; remove the lock to delete it",
                opts=pulumi.ResourceOptions(parent=parent),
            )
            endpoint = self.cosmos.name.apply(lambda n: f"https://{n}.table.cosmos.azure.com:443/")
            scope = self.cosmos.id.apply(lambda i: f"{i}/dbs/{COSMOS_TABLES_DB}/colls/{physical}")
            refs = {"backend": "cosmos", "scope": scope, "account_id": self.cosmos.id,
                    "account_name": self.cosmos.name}
        else:
            table = azure.storage.Table(
                logical,
                account_name=self.storage_name,
                resource_group_name=self.rg_name,
                table_name=physical,
                opts=self.ctx.stateful_options(parent, delete_before_replace=True),
            )
            endpoint = self.storage_name.apply(lambda n: f"https://{n}.table.core.windows.net")
            refs = {"backend": "storage", "scope": table.id}
        refs.update(physical=physical, endpoint=endpoint, keys=keys)
        return Built(name=physical, native=table, refs=refs)

    def queue(self, parent: pulumi.ComponentResource, logical: str, spec: QueueSpec) -> Built:
        queue = azure.servicebus.Queue(
            logical,
            namespace_name=self.bus.name,
            resource_group_name=self.rg_name,
            max_delivery_count=deliveries("azure", spec.max_retries),
            # Service Bus locks for at most 5 minutes; the Functions host renews the lock for
            # longer work (maxAutoLockRenewalDuration, set on the consumer).
            lock_duration=iso_duration(min(spec.visibility_timeout, 300)),
            dead_lettering_on_message_expiration=True,
            default_message_time_to_live=iso_duration(spec.retention),
            opts=self.ctx.stateful_options(parent),
        )
        return Built(name=queue.name, native=queue,
                     refs={"id": queue.id, "namespace": self.bus_host, "spec": spec})

    def topic(self, parent: pulumi.ComponentResource, logical: str, spec: TopicSpec) -> Built:
        topic = azure.servicebus.Topic(
            logical,
            namespace_name=self.bus.name,
            resource_group_name=self.rg_name,
            opts=self.ctx.stateful_options(parent),
        )
        return Built(name=topic.name, native=topic, refs={"id": topic.id, "namespace": self.bus_host})

    def secret(self, parent: pulumi.ComponentResource, logical: str, spec: SecretSpec) -> Built:
        value = pulumi.Config().get_secret(logical)
        ignore: list[str] = []
        if value is None:
            # No value on this stack yet: preview and a first `pulumi up` must still work, and the
            # grant needs the secret to exist. Create it with a marker value the runtime reports
            # as "not set", and leave later values (az keyvault secret set) alone until the
            # stack has one of its own (`pulumi config set --secret <name>`). The program warns
            # about the missing value, on every cloud (omnicloud/program.py secret_warnings).
            value = pulumi.Output.secret(UNSET_SECRET)
            ignore = ["properties.value"]
        secret = azure.keyvault.Secret(
            logical,
            vault_name=self.vault.name,
            resource_group_name=self.rg_name,
            secret_name=logical,
            properties=azure.keyvault.SecretPropertiesArgs(value=value, content_type=spec.description or None),
            opts=self.ctx.stateful_options(parent, ignore_changes=ignore or None),
        )
        return Built(name=logical, native=secret, refs={"id": secret.id, "vault_url": self.vault_url})

    def link_properties(self, target: LinkTarget) -> dict[str, pulumi.Input[Any]]:
        refs = target.built.refs
        if target.kind == "table":
            keys = {k: v for k, v in refs["keys"].items() if v is not None}
            return {"endpoint": refs["endpoint"], "name": refs["physical"], **keys}
        if target.kind in ("queue", "topic"):
            return {"namespace": refs["namespace"], "name": target.built.name}
        if target.kind == "secret":
            return {"vault_url": refs["vault_url"], "name": target.built.name}
        raise ValueError(f"azure: no link properties for a {target.kind}")

    # -- functions ---------------------------------------------------------------------------

    def function(self, parent: pulumi.ComponentResource, request: FunctionRequest,
                 env: dict[str, pulumi.Input[str]]) -> Built:
        logical, spec = request.logical, request.spec
        child = pulumi.ResourceOptions(parent=parent)
        identity = azure.managedidentity.UserAssignedIdentity(
            f"{logical}-identity", resource_group_name=self.rg_name, opts=child)
        # Flex Consumption hosts one app per plan.
        plan = azure.web.AppServicePlan(
            f"{logical}-plan",
            resource_group_name=self.rg_name,
            kind="functionapp",
            reserved=True,
            sku=azure.web.SkuDescriptionArgs(name="FC1", tier="FlexConsumption"),
            opts=child,
        )
        # The package container's name carries the code's hash: new code -> new container ->
        # changed app config -> the app restarts on the new package.
        slug = re.sub(r"-+", "-", logical)[:40]
        sha = request.artifact.sha256 if request.artifact is not None else None
        container = azure.storage.BlobContainer(
            f"{logical}-package",
            account_name=self.storage_name,
            resource_group_name=self.rg_name,
            container_name=f"{slug}-{sha[:16]}" if sha else f"{slug}-package",
            public_access=azure.storage.PublicAccess.NONE,
            opts=child,
        )
        depends: list[pulumi.Resource] = []
        if request.artifact is not None:
            depends.append(azure.storage.Blob(
                f"{logical}-package",
                account_name=self.storage_name,
                resource_group_name=self.rg_name,
                container_name=container.name,
                blob_name="released-package.zip",  # the name Flex Consumption deploys from
                type=azure.storage.BlobType.BLOCK,
                content_type="application/zip",
                source=pulumi.FileAsset(str(request.artifact.path)),
                opts=child,
            ))
        # The Functions host keeps leases, timers' schedule state and the package in blobs.
        depends.append(self._assign(parent, f"{logical}-host-storage", self.storage.id, "blob-owner",
                                    identity.principal_id))

        settings: dict[str, pulumi.Input[str]] = dict(env)
        settings.update({
            "AzureWebJobsStorage__accountName": self.storage_name,
            "AzureWebJobsStorage__credential": "managedidentity",
            "AzureWebJobsStorage__clientId": identity.client_id,
            "AZURE_CLIENT_ID": identity.client_id,
            "APPLICATIONINSIGHTS_CONNECTION_STRING": self.insights.connection_string,
            "AzureFunctionsJobHost__functionTimeout": _clock(spec.timeout),
            # Every function app of the stack shares one storage account, where the host keeps its
            # state under its host ID; the default ID is the app name's first 32 characters, so two
            # long names would collide and the host stops with an error. An explicit ID per app
            # (github.com/Azure/azure-functions-host/wiki/Host-IDs) cannot collide.
            "AzureFunctionsWebHost__hostid": host_id(logical),
        })
        if request.artifact is not None:
            # A new package must reach the scale controller as its triggers ("trigger syncing",
            # learn.microsoft.com/azure/azure-functions/functions-deployment-technologies#trigger-syncing):
            # a package in the deployment container is not synced by itself. Changing an app
            # setting restarts the app (learn.microsoft.com/azure/azure-functions/functions-app-settings),
            # and the host syncs triggers when it starts; this setting changes with every package.
            # (azure-native has neither the one-deploy publish nor a syncfunctiontriggers call.)
            settings["OMNICLOUD_PACKAGE_SHA256"] = request.artifact.sha256
        depends += self._trigger(parent, request, identity, settings)

        always_ready = None
        if spec.min_instances:
            # HTTP functions warm the "http" group; others are named after their function in function_app.py.
            group = "http" if spec.http is not None else f"function:{logical}"
            always_ready = [azure.web.FunctionsAlwaysReadyConfigArgs(name=group, instance_count=spec.min_instances)]
        app = azure.web.WebApp(
            logical,
            name=self.unique_name(f"{self.ctx.app.name}-{logical}", 60),
            resource_group_name=self.rg_name,
            kind="functionapp,linux",
            server_farm_id=plan.id,
            https_only=True,
            identity=azure.web.ManagedServiceIdentityArgs(
                type=azure.web.ManagedServiceIdentityType.USER_ASSIGNED, user_assigned_identities=[identity.id]),
            site_config=azure.web.SiteConfigArgs(
                app_settings=[azure.web.NameValuePairArgs(name=k, value=v) for k, v in sorted(settings.items())],
                min_tls_version="1.2",
                ftps_state="Disabled",
            ),
            function_app_config=azure.web.FunctionAppConfigArgs(
                deployment=azure.web.FunctionsDeploymentArgs(storage=azure.web.FunctionsDeploymentStorageArgs(
                    type="blobContainer",
                    value=pulumi.Output.concat(
                        "https://", self.storage_name, ".blob.core.windows.net/", container.name),
                    authentication=azure.web.FunctionsDeploymentStorageAuthenticationArgs(
                        type="UserAssignedIdentity", user_assigned_identity_resource_id=identity.id),
                )),
                runtime=azure.web.FunctionsRuntimeArgs(name="python", version="3.11"),
                scale_and_concurrency=azure.web.FunctionsScaleAndConcurrencyArgs(
                    instance_memory_mb=round_memory("azure", spec.memory),
                    maximum_instance_count=100,
                    always_ready=always_ready,
                ),
            ),
            opts=pulumi.ResourceOptions(parent=parent, delete_before_replace=True, depends_on=depends),
        )
        return Built(name=app.name, native=app, refs={
            "logical": logical, "principal_id": identity.principal_id, "identity": identity,
            "hostname": app.default_host_name, "app_name": app.name,
        })

    def _trigger(self, parent: pulumi.ComponentResource, request: FunctionRequest,
                 identity: azure.managedidentity.UserAssignedIdentity,
                 settings: dict[str, pulumi.Input[str]]) -> list[pulumi.Resource]:
        """Trigger wiring: the app settings function_app.py's bindings read, and the receive
        right on exactly the queue or the subscription."""
        logical, spec = request.logical, request.spec
        if spec.schedule is not None:
            settings["OMNICLOUD_SCHEDULE"] = parse_schedule(spec.schedule).for_azure()
            return []
        if spec.queue is None and spec.topic is None:
            return []
        source = request.trigger_source
        if source is None:
            raise ValueError(f"azure: function {logical!r} has a {spec.trigger} trigger but no built source")
        settings.update({
            "ServiceBusConnection__fullyQualifiedNamespace": self.bus_host,
            "ServiceBusConnection__credential": "managedidentity",
            "ServiceBusConnection__clientId": identity.client_id,
        })
        if spec.queue is not None:
            settings["OMNICLOUD_TRIGGER_QUEUE"] = source.name
            queue_spec: QueueSpec = source.refs["spec"]
            # The visibility timeout is how long one delivery may take; the host renews the
            # (at most 5-minute) lock until then.
            settings["AzureFunctionsJobHost__extensions__serviceBus__maxAutoLockRenewalDuration"] = _clock(
                max(queue_spec.visibility_timeout, 300))
            return [self._assign(parent, f"{logical}-receive", source.refs["id"], "bus-receiver",
                                 identity.principal_id)]

        assert spec.topic is not None
        defaults = QueueSpec()
        subscription = azure.servicebus.Subscription(
            f"{logical}-subscription",
            namespace_name=self.bus.name,
            resource_group_name=self.rg_name,
            topic_name=source.name,
            subscription_name=logical,
            max_delivery_count=deliveries("azure", defaults.max_retries),
            # Topics have no visibility timeout of their own: a delivery may take the function's timeout.
            lock_duration=iso_duration(min(max(spec.timeout, 30), 300)),
            dead_lettering_on_message_expiration=True,
            dead_lettering_on_filter_evaluation_exceptions=True,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        wiring: list[pulumi.Resource] = [subscription]
        if spec.topic.filter:
            # ARM gives every subscription a `$Default` rule with a TrueFilter; an extra rule would
            # be OR-ed with it and filter nothing, so the filter replaces the $Default rule itself.
            # Until it does (a new subscription's first seconds), every message reaches the
            # subscription: ARM cannot create a subscription with its rule in one request. The
            # subscriber tolerates that window: the adapter completes, without running the
            # handler, any message OMNICLOUD_TRIGGER_FILTER does not match (runtime/filters.py).
            settings["OMNICLOUD_TRIGGER_FILTER"] = json.dumps(spec.topic.filter, sort_keys=True,
                                                              separators=(",", ":"))
            wiring.append(azure.servicebus.DefaultRule(
                f"{logical}-filter",
                namespace_name=self.bus.name,
                resource_group_name=self.rg_name,
                topic_name=source.name,
                subscription_name=subscription.name,
                filter_type="SqlFilter",
                sql_filter=azure.servicebus.SqlFilterArgs(sql_expression=servicebus_sql(spec.topic.filter)),
                opts=pulumi.ResourceOptions(parent=parent),
            ))
        settings["OMNICLOUD_TRIGGER_TOPIC"] = source.name
        settings["OMNICLOUD_TRIGGER_SUBSCRIPTION"] = subscription.name
        wiring.append(self._assign(parent, f"{logical}-receive", subscription.id, "bus-receiver",
                                   identity.principal_id))
        return wiring

    def _assign(self, parent: pulumi.Resource, name: str, scope: pulumi.Input[str], role: str,
                principal_id: pulumi.Input[str]) -> pulumi.Resource:
        role_definition_id = pulumi.Output.concat(
            "/subscriptions/", self.subscription_id, "/providers/Microsoft.Authorization/roleDefinitions/", ROLES[role])
        return azure.authorization.RoleAssignment(
            name,
            # Unique per tenant, and a different principal (or scope, or role) is a different name,
            # so a changed grant is a new assignment rather than a rejected update of the old one.
            role_assignment_name=_guid_of(scope, principal_id, role_definition_id),
            scope=scope,
            role_definition_id=role_definition_id,
            principal_id=principal_id,
            principal_type="ServicePrincipal",
            opts=pulumi.ResourceOptions(parent=parent),
        )

    def grant(self, parent: pulumi.ComponentResource, function: Built, target: LinkTarget) -> list[pulumi.Resource]:
        """One data-plane role on exactly the linked resource. Table `write` takes the
        contributor role, which reads too (Azure has no write-only table role)."""
        fn = function.refs["logical"]
        principal = function.refs["principal_id"]
        refs = target.built.refs
        if target.kind == "table":
            role = "table-contributor" if "write" in target.verbs else "table-reader"
            if refs["backend"] == "cosmos":
                role_definition_id = pulumi.Output.concat(
                    refs["account_id"], "/tableRoleDefinitions/", COSMOS_ROLES[role])
                return [azure.cosmosdb.TableResourceTableRoleAssignment(
                    f"{fn}-{target.logical}-{role}",
                    account_name=refs["account_name"],
                    resource_group_name=self.rg_name,
                    role_assignment_id=_guid_of(refs["scope"], principal, role_definition_id),
                    role_definition_id=role_definition_id,
                    scope=refs["scope"],
                    principal_id=principal,
                    opts=pulumi.ResourceOptions(parent=parent),
                )]
            return [self._assign(parent, f"{fn}-{target.logical}-{role}", refs["scope"], role, principal)]
        if target.kind in ("queue", "topic"):
            return [self._assign(parent, f"{fn}-{target.logical}-sender", refs["id"], "bus-sender", principal)]
        if target.kind == "secret":
            return [self._assign(parent, f"{fn}-{target.logical}-secrets-user", refs["id"], "secrets-user",
                                 principal)]
        raise ValueError(f"azure: cannot grant {target.verbs} on a {target.kind}")

    def schedule(self, parent: pulumi.ComponentResource, logical: str, schedule: Schedule, function: Built) -> Built:
        # The timer trigger lives in the function app (OMNICLOUD_SCHEDULE): nothing to create.
        return Built(name=function.name, native=function.native, refs={"ncrontab": schedule.for_azure()})

    def http_api(self, parent: pulumi.ComponentResource, logical: str, routes: list[tuple[str, str, Built]]) -> Built:
        app = self.ctx.app.name
        child = pulumi.ResourceOptions(parent=parent)
        config = pulumi.Config("omnicloud")
        # A deleted API Management service keeps its name 48 hours (soft delete), so the service
        # is never deleted before its replacement exists: a replacement has a new suffix, hence a
        # new name, and is created first (see unique_name).
        service = azure.apimanagement.ApiManagementService(
            f"{logical}-gateway",
            service_name=self.unique_name(f"{app}-{logical}", 50),
            resource_group_name=self.rg_name,
            sku=azure.apimanagement.ApiManagementServiceSkuPropertiesArgs(name="Consumption", capacity=0),
            publisher_name=config.get("publisher_name") or app,
            publisher_email=config.get("publisher_email") or f"{app}@example.com",
            opts=pulumi.ResourceOptions(parent=parent),
        )
        for prefix, fn, built in routes:
            # The API path is the prefix; APIM strips it, so the backend URL puts it back and the
            # function (routePrefix "") sees the same path as on every other cloud.
            api = azure.apimanagement.Api(
                f"{logical}-{fn}",
                api_id=fn,
                service_name=service.name,
                resource_group_name=self.rg_name,
                display_name=f"{app} {fn}",
                path=prefix.strip("/"),
                protocols=["https"],
                service_url=pulumi.Output.concat("https://", built.refs["hostname"], prefix.rstrip("/")),
                subscription_required=False,
                opts=child,
            )
            self._function_key(parent, logical, fn, built, service, api)
            for method in HTTP_METHODS:
                azure.apimanagement.ApiOperation(
                    f"{logical}-{fn}-{method.lower()}",
                    api_id=api.name,
                    operation_id=method.lower(),
                    service_name=service.name,
                    resource_group_name=self.rg_name,
                    display_name=f"{method} {prefix}*",
                    method=method,
                    url_template="/*",
                    opts=child,
                )
        return Built(name=service.name, native=service, url=service.gateway_url, refs={"id": service.id})

    def _function_key(self, parent: pulumi.Resource, logical: str, fn: str, built: Built,
                      service: azure.apimanagement.ApiManagementService, api: azure.apimanagement.Api) -> None:
        """Only API Management may call the Function App: its HTTP trigger takes authLevel
        `function` (function_app.py), so the host refuses a request without a key, and APIM sends
        the app's default host key, kept as a secret named value, in `x-functions-key` (the way
        APIM's own Function App import does it: learn.microsoft.com/azure/api-management/
        import-function-app-as-api). APIM Consumption has no fixed outbound address, so IP access
        restrictions cannot single it out (learn.microsoft.com/azure/api-management/
        api-management-howto-ip-addresses); AWS and GCP functions are reachable only through
        their gateway too (IAM), so Azure matches them."""
        child = pulumi.ResourceOptions(parent=parent)
        keys = azure.web.list_web_app_host_keys_output(
            name=built.refs["app_name"], resource_group_name=self.rg_name,
            opts=pulumi.InvokeOutputOptions(parent=parent))
        key_name = f"{fn}-functions-key"
        azure.apimanagement.NamedValue(
            f"{logical}-{fn}-key",
            named_value_id=key_name,
            display_name=key_name,
            secret=True,
            value=pulumi.Output.secret(keys.function_keys.apply(lambda found: (found or {})["default"])),
            service_name=service.name,
            resource_group_name=self.rg_name,
            opts=child,
        )
        azure.apimanagement.ApiPolicy(
            f"{logical}-{fn}-policy",
            api_id=api.name,
            policy_id="policy",
            format="xml",
            value=FUNCTION_KEY_POLICY.format(named_value=key_name),
            service_name=service.name,
            resource_group_name=self.rg_name,
            opts=child,
        )


def _guid_of(*parts: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.all(*parts).apply(lambda resolved: arm_guid(*resolved))


@functools.cache
def _takes_tag_map(resource_class: type) -> bool:
    """Whether an azure-native resource's `tags` argument is a map (some take a list)."""
    init = getattr(resource_class, "_internal_init", None)
    param = inspect.signature(init).parameters.get("tags") if init else None
    return param is not None and "Mapping" in str(param.annotation)
