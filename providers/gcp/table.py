"""Table on Google Cloud: a named Firestore (native) database per table, the table one collection in
it; prod adds point-in-time recovery and delete protection."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_gcp as gcp

from providers.base import Built, LinkTarget, Mapping
from spec.model import TableSpec

from . import fit_name

if TYPE_CHECKING:
    from components.base import Component


@dataclass
class TableNodes:
    database: gcp.firestore.Database
    # With a sort key: an ascending and a descending composite index.
    indexes: list[gcp.firestore.Index] = field(default_factory=list)
    # With a ttl: the TTL policy on the timestamp the runtime writes.
    ttl: gcp.firestore.Field | None = None


class TableOnGcp(Mapping):
    kind = "table"
    Nodes = TableNodes
    services = ("firestore.googleapis.com",)

    def create(self, component: Component, spec: TableSpec) -> Built[TableNodes]:
        provider, logical, prod = self.provider, component.logical, self.ctx.prod
        # One named Firestore database per table, the table being one collection in it: that gives
        # each table its own point-in-time recovery and delete protection, and lets a link's grant
        # be conditioned to this database (Firestore has no IAM below the database).
        database = component.node(
            "database",
            gcp.firestore.Database,
            fit_name(
                provider.name(logical), 55
            ),  # Pulumi adds an 8-character suffix; ids are at most 63
            provider.stateful(component),
            location_id=provider.region,
            type="FIRESTORE_NATIVE",
            app_engine_integration_mode="DISABLED",
            point_in_time_recovery_enablement="POINT_IN_TIME_RECOVERY_ENABLED"
            if prod
            else "POINT_IN_TIME_RECOVERY_DISABLED",
            delete_protection_state="DELETE_PROTECTION_ENABLED"
            if prod
            else "DELETE_PROTECTION_DISABLED",
            # The provider abandons databases on delete unless told otherwise: dev really deletes.
            deletion_policy="ABANDON" if prod else "DELETE",
        )
        nodes = TableNodes(database=database)
        if spec.sort_key:
            # Equality on the partition key ordered by the sort key needs a composite index per direction.
            for order in ("ASCENDING", "DESCENDING"):
                nodes.indexes.append(
                    component.node(
                        "indexes",
                        gcp.firestore.Index,
                        f"{provider.name(logical)}-{order.lower()}",
                        provider.opts(component),
                        database=database.name,
                        collection=logical,
                        query_scope="COLLECTION",
                        fields=[
                            {"field_path": spec.partition_key, "order": "ASCENDING"},
                            {"field_path": spec.sort_key, "order": order},
                        ],
                    )
                )
        if spec.ttl:
            nodes.ttl = component.node(
                "ttl",
                gcp.firestore.Field,
                f"{provider.name(logical)}-ttl",
                provider.opts(component),
                database=database.name,
                collection=logical,
                # Firestore TTL reads a timestamp; the runtime writes one beside the neutral
                # epoch-seconds attribute (runtime/backends/gcp.py EXPIRES_FIELD).
                field="omnicloud_expires",
                ttl_config={},
            )
        return Built(name=database.name, nodes=nodes, native=database, spec=spec)

    def _database_path(self, database: gcp.firestore.Database) -> pulumi.Output[str]:
        return pulumi.Output.concat(
            "projects/", self.provider.project, "/databases/", database.name
        )

    def link_properties(self, target: LinkTarget) -> dict[str, pulumi.Input[Any]]:
        spec: TableSpec = target.built.spec
        return {
            "project": self.provider.project,
            "database": target.built.nodes.database.name,
            "collection": target.logical,
            "partition_key": spec.partition_key,
            "sort_key": spec.sort_key,
            "ttl": spec.ttl,
        }

    def grant(self, function: Component, target: LinkTarget) -> list[pulumi.Resource]:
        # Firestore has no per-collection (or per-document) IAM, and its roles can only be granted
        # on the project: the binding is project-level, conditioned to this table's database.
        # datastore.user already includes reading; Firestore has no write-only role.
        role = "roles/datastore.user" if "write" in target.verbs else "roles/datastore.viewer"
        path = self._database_path(target.built.nodes.database)
        condition = path.apply(
            lambda p: {
                "title": f"only database {p.rsplit('/', 1)[-1]}"[:100],
                "description": f"{function.logical} may {'/'.join(target.verbs)} table {target.logical}",
                "expression": f'resource.name == "{p}" || resource.name.startsWith("{p}/")',
            }
        )
        return [
            function.node(
                "grants",
                gcp.projects.IAMMember,
                f"{function.logical}-{target.logical}-{role.rsplit('.', 1)[-1]}",
                self.provider.opts(function),
                project=self.provider.project,
                role=role,
                member=function.nodes.member,
                condition=condition,
            )
        ]
