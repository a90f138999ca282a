"""Azure: Function Apps on Flex Consumption, Service Bus, Storage Tables (prod: Cosmos DB for Table),
Key Vault and API Management, with identity-based access scoped to exactly the linked resource."""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

import pulumi
import pulumi_azure_native as azure

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

    # -- names -------------------------------------------------------------------------------

    def _hash(self, *parts: str) -> str:
        return hashlib.sha256("/".join((self.ctx.app.name, self.ctx.stack, *parts)).encode()).hexdigest()

    def unique_name(self, purpose: str, base: str, max_len: int, *, sep: str = "-", hash_len: int = 8) -> str:
        """A deterministic, globally unique physical name: `base` cut to fit, then a short hash
        of app, stack and purpose (names Azure requires to be unique across all customers)."""
        suffix = self._hash(purpose)[:hash_len]
        return f"{base[: max_len - len(suffix) - len(sep)].rstrip('-')}{sep}{suffix}"

    def _assignment_name(self, scope: str, role: str, principal: str) -> str:
        # Role assignment names are GUIDs; deterministic so a re-run never duplicates a grant.
        return str(uuid.uuid5(_NAMESPACE, f"{self.ctx.app.name}/{self.ctx.stack}/{scope}/{role}/{principal}"))

    # -- shared resources --------------------------------------------------------------------

    def setup(self, parent: pulumi.ComponentResource) -> None:
        app = self.ctx.app.name
        child = pulumi.ResourceOptions(parent=parent)
        client = azure.authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=parent))
        self.subscription_id = client.subscription_id
        self.tenant_id = client.tenant_id
        self.group = azure.resources.ResourceGroup(f"{app}-rg", opts=child)
        self.rg_name = self.group.name

        # Function host state and deployment packages (and, in dev, the tables).
        self.storage = azure.storage.StorageAccount(
            f"{app}-storage",
            account_name=self.unique_name("storage", _alnum(app), 24, sep=""),
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

        vault_name = self.unique_name("vault", app, 24)
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
            opts=self.ctx.stateful_options(parent, delete_before_replace=True),
        )
        self.vault_url = f"https://{vault_name}.vault.azure.net/"

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
            account_name=self.unique_name("cosmos", app, 44),
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
        self.cosmos_lock = azure.authorization.ManagementLockByScope(
            f"{app}-tables-lock",
            scope=self.cosmos.id,
            level="CanNotDelete",
            notes="omnicloud prod: tables are deletion-protected; remove this lock to delete them",
            opts=pulumi.ResourceOptions(parent=parent),
        )

    def transformation(self, args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        """Stack-wide tags on every azure-native resource whose arguments take `tags`."""
        if not args.type_.startswith("azure-native:"):
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
        depends.append(self._assign(parent, f"{logical}-host-storage", self.storage.id, "storage", "blob-owner",
                                    logical, identity.principal_id))

        settings: dict[str, pulumi.Input[str]] = dict(env)
        settings.update({
            "AzureWebJobsStorage__accountName": self.storage_name,
            "AzureWebJobsStorage__credential": "managedidentity",
            "AzureWebJobsStorage__clientId": identity.client_id,
            "AZURE_CLIENT_ID": identity.client_id,
            "APPLICATIONINSIGHTS_CONNECTION_STRING": self.insights.connection_string,
            "AzureFunctionsJobHost__functionTimeout": _clock(spec.timeout),
        })
        depends += self._trigger(parent, request, identity, settings)

        always_ready = None
        if spec.min_instances:
            # HTTP functions warm the "http" group; others are named after their function in function_app.py.
            group = "http" if spec.http is not None else f"function:{logical}"
            always_ready = [azure.web.FunctionsAlwaysReadyConfigArgs(name=group, instance_count=spec.min_instances)]
        app = azure.web.WebApp(
            logical,
            name=self.unique_name(f"function/{logical}", f"{self.ctx.app.name}-{logical}", 60, hash_len=9),
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
            "hostname": app.default_host_name,
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
            return [self._assign(parent, f"{logical}-receive", source.refs["id"], f"queue:{spec.queue.name}",
                                 "bus-receiver", logical, identity.principal_id)]

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
        wiring.append(self._assign(parent, f"{logical}-receive", subscription.id,
                                   f"subscription:{spec.topic.name}/{logical}", "bus-receiver", logical,
                                   identity.principal_id))
        return wiring

    def _assign(self, parent: pulumi.Resource, name: str, scope: pulumi.Input[str], scope_logical: str,
                role: str, principal_logical: str, principal_id: pulumi.Input[str]) -> pulumi.Resource:
        return azure.authorization.RoleAssignment(
            name,
            role_assignment_name=self._assignment_name(scope_logical, role, principal_logical),
            scope=scope,
            role_definition_id=pulumi.Output.concat(
                "/subscriptions/", self.subscription_id, "/providers/Microsoft.Authorization/roleDefinitions/",
                ROLES[role]),
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
            scope_logical = f"table:{target.logical}"
            if refs["backend"] == "cosmos":
                return [azure.cosmosdb.TableResourceTableRoleAssignment(
                    f"{fn}-{target.logical}-{role}",
                    account_name=refs["account_name"],
                    resource_group_name=self.rg_name,
                    role_assignment_id=self._assignment_name(scope_logical, role, fn),
                    role_definition_id=pulumi.Output.concat(
                        refs["account_id"], "/tableRoleDefinitions/", COSMOS_ROLES[role]),
                    scope=refs["scope"],
                    principal_id=principal,
                    opts=pulumi.ResourceOptions(parent=parent),
                )]
            return [self._assign(parent, f"{fn}-{target.logical}-{role}", refs["scope"], scope_logical, role, fn,
                                 principal)]
        if target.kind in ("queue", "topic"):
            return [self._assign(parent, f"{fn}-{target.logical}-sender", refs["id"],
                                 f"{target.kind}:{target.logical}", "bus-sender", fn, principal)]
        if target.kind == "secret":
            return [self._assign(parent, f"{fn}-{target.logical}-secrets-user", refs["id"],
                                 f"secret:{target.logical}", "secrets-user", fn, principal)]
        raise ValueError(f"azure: cannot grant {target.verbs} on a {target.kind}")

    def schedule(self, parent: pulumi.ComponentResource, logical: str, schedule: Schedule, function: Built) -> Built:
        # The timer trigger lives in the function app (OMNICLOUD_SCHEDULE): nothing to create.
        return Built(name=function.name, native=function.native, refs={"ncrontab": schedule.for_azure()})

    def http_api(self, parent: pulumi.ComponentResource, logical: str, routes: list[tuple[str, str, Built]]) -> Built:
        app = self.ctx.app.name
        child = pulumi.ResourceOptions(parent=parent)
        config = pulumi.Config("omnicloud")
        service = azure.apimanagement.ApiManagementService(
            f"{logical}-gateway",
            service_name=self.unique_name("apim", f"{app}-{logical}", 50),
            resource_group_name=self.rg_name,
            sku=azure.apimanagement.ApiManagementServiceSkuPropertiesArgs(name="Consumption", capacity=0),
            publisher_name=config.get("publisher_name") or app,
            publisher_email=config.get("publisher_email") or f"{app}@example.com",
            opts=pulumi.ResourceOptions(parent=parent, delete_before_replace=True),
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
