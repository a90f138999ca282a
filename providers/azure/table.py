"""Table on Azure: a Storage table; in prod a table of Cosmos DB for Table (same azure-data-tables
client) with continuous backup and a delete lock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_azure_native as azure

from providers.base import Built, LinkTarget, Mapping
from spec.model import TableSpec

from . import alnum, guid_of

if TYPE_CHECKING:
    from components.base import Component

# Cosmos DB for Table keeps its own data-plane role definitions inside each account.
COSMOS_ROLES = {
    "table-reader": "00000000-0000-0000-0000-000000000001",  # Cosmos DB Built-in Data Reader
    "table-contributor": "00000000-0000-0000-0000-000000000002",  # Cosmos DB Built-in Data Contributor
}
# Cosmos DB for Table stores every table as a collection of this database (the RBAC scope path).
COSMOS_TABLES_DB = "TablesDB"


@dataclass
class TableNodes:
    table: azure.storage.Table | azure.cosmosdb.TableResourceTable
    # Prod (Cosmos DB): the delete lock on the table.
    lock: azure.authorization.ManagementLockByScope | None = None

    @property
    def cosmos(self) -> bool:
        return isinstance(self.table, azure.cosmosdb.TableResourceTable)


class TableOnAzure(Mapping):
    kind = "table"
    Nodes = TableNodes

    def cosmos_account(self) -> azure.cosmosdb.DatabaseAccount:
        """The app's Cosmos DB for Table account (an App node), made with the first prod table.

        Storage Tables have no point-in-time restore; prod tables live in Cosmos DB for Table
        (same azure-data-tables client) with continuous backup and a delete lock."""
        provider = self.provider
        if provider.nodes.cosmos is None:
            app = provider.app
            provider.nodes.cosmos = app.node(
                "cosmos",
                azure.cosmosdb.DatabaseAccount,
                f"{self.ctx.app.name}-tables",
                self.ctx.stateful_options(app, delete_before_replace=True),
                account_name=provider.unique_name(self.ctx.app.name, 44),
                resource_group_name=provider.rg_name,
                database_account_offer_type=azure.cosmosdb.DatabaseAccountOfferType.STANDARD,
                kind=azure.cosmosdb.DatabaseAccountKind.GLOBAL_DOCUMENT_DB,
                capabilities=[azure.cosmosdb.CapabilityArgs(name="EnableTable")],
                locations=[
                    azure.cosmosdb.LocationArgs(
                        location_name=provider.nodes.resource_group.location, failover_priority=0
                    )
                ],
                consistency_policy=azure.cosmosdb.ConsistencyPolicyArgs(
                    default_consistency_level="Session"
                ),
                backup_policy=azure.cosmosdb.ContinuousModeBackupPolicyArgs(
                    type="Continuous",
                    continuous_mode_properties=azure.cosmosdb.ContinuousModePropertiesArgs(
                        tier="Continuous30Days"
                    ),
                ),
                disable_local_auth=True,
                disable_key_based_metadata_write_access=True,
                minimal_tls_version="Tls12",
            )
        return provider.nodes.cosmos

    def physical(self, logical: str) -> str:
        # Storage table names are 3-63 letters and digits starting with a letter (as app names
        # do): hyphens go, a short hash keeps `audit-log` and `auditlog` apart.
        return (
            f"{alnum(self.ctx.app.name + logical)[:55]}{self.provider.hash('table', logical)[:8]}"
        )

    def create(self, component: Component, spec: TableSpec) -> Built[TableNodes]:
        provider, logical = self.provider, component.logical
        physical = self.physical(logical)
        if self.ctx.prod:
            cosmos = self.cosmos_account()
            table = component.node(
                "table",
                azure.cosmosdb.TableResourceTable,
                logical,
                self.ctx.stateful_options(component, delete_before_replace=True),
                account_name=cosmos.name,
                resource_group_name=provider.rg_name,
                table_name=physical,
                resource=azure.cosmosdb.TableResourceArgs(id=physical),
                options=azure.cosmosdb.CreateUpdateOptionsArgs(
                    autoscale_settings=azure.cosmosdb.AutoscaleSettingsArgs(max_throughput=1000)
                ),
            )
            # The delete lock is on each table, not on the account: a lock applies to everything
            # below its scope (learn.microsoft.com/azure/cosmos-db/resource-locks), and the account
            # also holds the tables' role assignments (tableRoleAssignments), which must stay
            # deletable so a removed link or function can be deployed.
            lock = component.node(
                "lock",
                azure.authorization.ManagementLockByScope,
                f"{logical}-lock",
                scope=table.id,
                level="CanNotDelete",
                notes="omnicloud prod: this table is deletion-protected; remove the lock to delete it",
            )
            nodes = TableNodes(table=table, lock=lock)
        else:
            table = component.node(
                "table",
                azure.storage.Table,
                logical,
                self.ctx.stateful_options(component, delete_before_replace=True),
                account_name=provider.storage_name,
                resource_group_name=provider.rg_name,
                table_name=physical,
            )
            nodes = TableNodes(table=table)
        return Built(name=physical, nodes=nodes, native=table, spec=spec)

    def _scope(self, target: LinkTarget) -> pulumi.Output[str]:
        """What a grant is scoped to: the table (Storage), or its collection in the account (Cosmos)."""
        if target.built.nodes.cosmos:
            return self.cosmos_account().id.apply(
                lambda i: f"{i}/dbs/{COSMOS_TABLES_DB}/colls/{target.built.name}"
            )
        return target.built.nodes.table.id

    def link_properties(self, target: LinkTarget) -> dict[str, pulumi.Input[Any]]:
        spec: TableSpec = target.built.spec
        if target.built.nodes.cosmos:
            endpoint = self.cosmos_account().name.apply(
                lambda n: f"https://{n}.table.cosmos.azure.com:443/"
            )
        else:
            endpoint = self.provider.storage_name.apply(
                lambda n: f"https://{n}.table.core.windows.net"
            )
        keys = {
            k: v
            for k, v in (
                ("partition_key", spec.partition_key),
                ("sort_key", spec.sort_key),
                ("ttl", spec.ttl),
            )
            if v is not None
        }
        return {"endpoint": endpoint, "name": target.built.name, **keys}

    def grant(self, function: Component, target: LinkTarget) -> list[pulumi.Resource]:
        """One data-plane role on exactly the table. `write` takes the contributor role, which
        reads too (Azure has no write-only table role)."""
        role = "table-contributor" if "write" in target.verbs else "table-reader"
        principal = function.nodes.identity.principal_id
        name = f"{function.logical}-{target.logical}-{role}"
        scope = self._scope(target)
        if target.built.nodes.cosmos:
            cosmos = self.cosmos_account()
            role_definition_id = pulumi.Output.concat(
                cosmos.id, "/tableRoleDefinitions/", COSMOS_ROLES[role]
            )
            return [
                function.node(
                    "grants",
                    azure.cosmosdb.TableResourceTableRoleAssignment,
                    name,
                    account_name=cosmos.name,
                    resource_group_name=self.provider.rg_name,
                    role_assignment_id=guid_of(scope, principal, role_definition_id),
                    role_definition_id=role_definition_id,
                    scope=scope,
                    principal_id=principal,
                )
            ]
        return [self.provider.assign(function, "grants", name, scope, role, principal)]
