"""Azure: Function Apps on Flex Consumption, Service Bus, Storage Tables (prod: Cosmos DB for Table),
Key Vault and API Management, with identity-based access scoped to exactly the linked resource.

One file per kind: function.py, queue.py (Queue becomes a Service Bus queue), topic.py, table.py,
secret.py, schedule.py, http.py. This module holds the provider: the app-wide resources every
kind shares (resource group, storage, Service Bus namespace, Key Vault, monitoring), names, role
assignments and stack tags.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_azure_native as azure
import pulumi_random as random

from omnicloud.program import azure_recover_items
from providers.base import CloudProvider, DeployContext, LinkTarget, Mapping

from .sync import arm_endpoint

if TYPE_CHECKING:
    from components.base import Component

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
# A secret the stack has no value for yet gets this value until `pulumi config set --secret`.
UNSET_SECRET = "omnicloud:unset"
_NAMESPACE = uuid.UUID("5b0c8a4e-7f0e-4d8e-9d0c-6f1f3b0e2a11")
# Globally unique names end in a random suffix kept in the stack's state (see `unique_name`).
SUFFIX_LENGTH = 8
# A Functions host ID is at most 32 characters: lowercase letters, digits and dashes.
HOST_ID_MAX = 32


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
    return (
        "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")
        if (days or time)
        else "PT0S"
    )


def clock(seconds: int) -> str:
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def alnum(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


@dataclass
class AzureNodes:
    """The app-wide resources every kind on Azure shares (nodes of the App)."""

    resource_group: azure.resources.ResourceGroup
    # None when the stack pins the suffix (omnicloud:azure_suffix, to recover deleted resources).
    suffix: random.RandomString | None
    storage: azure.storage.StorageAccount
    bus: azure.servicebus.Namespace
    vault: azure.keyvault.Vault
    workspace: azure.operationalinsights.Workspace
    insights: azure.applicationinsights.Component
    # Prod tables live in Cosmos DB for Table; the account is made with the first one (table.py).
    cosmos: azure.cosmosdb.DatabaseAccount | None = None


class AzureProvider(CloudProvider):
    cloud = "azure"
    Nodes = AzureNodes

    def __init__(self, ctx: DeployContext, kinds=None) -> None:
        super().__init__(ctx, kinds)
        self.suffix: pulumi.Output[str] | None = None
        self.app: Component | None = None

    # -- names -------------------------------------------------------------------------------

    def hash(self, *parts: str) -> str:
        return hashlib.sha256(
            "/".join((self.ctx.app.name, self.ctx.stack, *parts)).encode()
        ).hexdigest()

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
        if self.suffix is None:
            raise RuntimeError(
                "the Azure provider's setup(app) draws the name suffix first; build through App,"
                " or call provider.setup(parent) before creating components"
            )
        head = base[: max_len - SUFFIX_LENGTH - len(sep)].rstrip("-")
        return self.suffix.apply(lambda suffix: f"{head}{sep}{suffix}")

    # -- shared resources --------------------------------------------------------------------

    def setup(self, app: Component) -> AzureNodes:
        name = self.ctx.app.name
        self.app = app
        client = azure.authorization.get_client_config_output(
            opts=pulumi.InvokeOutputOptions(parent=app)
        )
        self.subscription_id = client.subscription_id
        self.arm_endpoint = arm_endpoint()
        self.tenant_id = client.tenant_id
        group = app.node("resource_group", azure.resources.ResourceGroup, f"{name}-rg")
        self.rg_name = group.name
        config = pulumi.Config("omnicloud")
        pinned = config.get("azure_suffix")
        # What to bring back from soft delete under the pinned names: key-vault, api-management
        # (checked by omnicloud.program).
        self.recover = frozenset(azure_recover_items(config.get("azure_recover") or "[]"))
        if pinned:
            # A stack that brings back soft-deleted resources names them as they were.
            suffix = None
            self.suffix = pulumi.Output.from_input(pinned)
        else:
            # Lowercase letters and digits: the one alphabet every globally named resource accepts.
            suffix = app.node(
                "suffix",
                random.RandomString,
                f"{name}-suffix",
                length=SUFFIX_LENGTH,
                special=False,
                upper=False,
                keepers={"resource_group": group.name},
            )
            self.suffix = suffix.result
        if self.recover:
            pulumi.log.warn(
                f"omnicloud:azure_recover is set: this `pulumi up` recovers the soft-deleted"
                f" {' and '.join(sorted(self.recover))} named with suffix {pinned}; remove"
                " omnicloud:azure_recover once it succeeded (keep omnicloud:azure_suffix)"
            )

        # Function host state and deployment packages (and, in dev, the tables).
        storage = app.node(
            "storage",
            azure.storage.StorageAccount,
            f"{name}-storage",
            self.ctx.stateful_options(app, delete_before_replace=True),
            account_name=self.unique_name(alnum(name), 24, sep=""),
            resource_group_name=self.rg_name,
            kind=azure.storage.Kind.STORAGE_V2,
            sku=azure.storage.SkuArgs(name="Standard_ZRS" if self.ctx.prod else "Standard_LRS"),
            enable_https_traffic_only=True,
            minimum_tls_version=azure.storage.MinimumTlsVersion.TLS1_2,
            allow_blob_public_access=False,
        )
        self.storage_name = storage.name

        # Standard: topics need it. Local (SAS key) auth off: every client uses its identity.
        bus = app.node(
            "bus",
            azure.servicebus.Namespace,
            f"{name}-bus",
            self.ctx.stateful_options(app),
            resource_group_name=self.rg_name,
            sku=azure.servicebus.SBSkuArgs(name="Standard", tier="Standard"),
            minimum_tls_version="1.2",
            disable_local_auth=True,
        )
        self.bus_host = bus.name.apply(lambda n: f"{n}.servicebus.windows.net")

        vault_name = self.unique_name(name, 24)
        # Soft delete keeps a deleted vault (and its name) 7 days in dev, 90 in prod; purge
        # protection (prod) forbids purging it early, and azure-native never purges
        # (github.com/pulumi/pulumi-azure-native/issues/1174). So the vault is never deleted before
        # its replacement exists: a replacement comes with a new suffix, hence a new name, and is
        # created first (no delete_before_replace). Prod retains the vault on `pulumi destroy`;
        # a dev vault stays recoverable (`az keyvault recover`) until its retention ends.
        vault = app.node(
            "vault",
            azure.keyvault.Vault,
            f"{name}-vault",
            self.ctx.stateful_options(app),
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
                # "recover" undeletes the soft-deleted vault of this name, secrets and all
                # (learn.microsoft.com/azure/key-vault/general/key-vault-recovery).
                create_mode=azure.keyvault.CreateMode.RECOVER if "key-vault" in self.recover else None,
            ),
        )
        self.vault_url = vault_name.apply(lambda vault: f"https://{vault}.vault.azure.net/")

        workspace = app.node(
            "workspace",
            azure.operationalinsights.Workspace,
            f"{name}-logs",
            resource_group_name=self.rg_name,
            sku=azure.operationalinsights.WorkspaceSkuArgs(name="PerGB2018"),
            retention_in_days=90 if self.ctx.prod else 30,
        )
        insights = app.node(
            "insights",
            azure.applicationinsights.Component,
            f"{name}-insights",
            resource_group_name=self.rg_name,
            kind="web",
            application_type="web",
            workspace_resource_id=workspace.id,
            ingestion_mode="LogAnalytics",
        )
        self.nodes = AzureNodes(
            resource_group=group,
            suffix=suffix,
            storage=storage,
            bus=bus,
            vault=vault,
            workspace=workspace,
            insights=insights,
        )
        return self.nodes

    def transformation(
        self, args: pulumi.ResourceTransformationArgs
    ) -> pulumi.ResourceTransformationResult | None:
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

    # -- grants ------------------------------------------------------------------------------

    def assign(
        self,
        component: Component,
        key: str,
        name: str,
        scope: pulumi.Input[str],
        role: str,
        principal_id: pulumi.Input[str],
    ) -> pulumi.Resource:
        """Data-plane role `role` (a key of ROLES, or a built-in role's id) for `principal_id` on
        exactly `scope`, as node `key` of `component`."""
        role_definition_id = pulumi.Output.concat(
            "/subscriptions/",
            self.subscription_id,
            "/providers/Microsoft.Authorization/roleDefinitions/",
            ROLES.get(role, role),
        )
        return component.node(
            key,
            azure.authorization.RoleAssignment,
            name,
            # Unique per tenant, and a different principal (or scope, or role) is a different name,
            # so a changed grant is a new assignment rather than a rejected update of the old one.
            role_assignment_name=guid_of(scope, principal_id, role_definition_id),
            scope=scope,
            role_definition_id=role_definition_id,
            principal_id=principal_id,
            principal_type="ServicePrincipal",
        )


def guid_of(*parts: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.all(*parts).apply(lambda resolved: arm_guid(*resolved))


@functools.cache
def _takes_tag_map(resource_class: type) -> bool:
    """Whether an azure-native resource's `tags` argument is a map (some take a list)."""
    init = getattr(resource_class, "_internal_init", None)
    param = inspect.signature(init).parameters.get("tags") if init else None
    return param is not None and "Mapping" in str(param.annotation)


class ServiceBusEntity(Mapping):
    """What a Service Bus queue and topic share: a link names the namespace and the entity, and
    `send`/`publish` is Azure Service Bus Data Sender on exactly that entity."""

    def entity(self, target: LinkTarget) -> pulumi.Resource:
        raise NotImplementedError

    def link_properties(self, target: LinkTarget) -> dict[str, pulumi.Input[str]]:
        return {"namespace": self.provider.bus_host, "name": target.built.name}

    def grant(self, function: Component, target: LinkTarget) -> list[pulumi.Resource]:
        name = f"{function.logical}-{target.logical}-sender"
        principal = function.nodes.identity.principal_id
        return [
            self.provider.assign(
                function, "grants", name, self.entity(target).id, "bus-sender", principal
            )
        ]
