"""Bucket on Azure: a private blob container in the app's storage account; a link grants a blob
data role on exactly that container."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_azure_native as azure

from providers.base import Built, LinkTarget, Mapping

from .buckets import BucketSpec, physical_name

if TYPE_CHECKING:
    from components.base import Component

# Built-in roles (learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage):
# Storage Blob Data Reader reads and lists; Storage Blob Data Contributor also writes and deletes
# (Azure has no write-only blob role). Scoped to the container, not the account.
BLOB_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
BLOB_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"


@dataclass
class BucketNodes:
    container: azure.storage.BlobContainer


class BucketOnAzure(Mapping):
    kind = "bucket"
    Nodes = BucketNodes

    def create(self, component: Component, spec: BucketSpec) -> Built[BucketNodes]:
        provider = self.provider
        name, _ = physical_name("azure", self.ctx.app.name, component.logical)
        container = component.node(
            "container",
            azure.storage.BlobContainer,
            component.logical,
            self.ctx.stateful_options(component, delete_before_replace=True),
            account_name=provider.storage_name,
            resource_group_name=provider.rg_name,
            container_name=name,
            public_access=azure.storage.PublicAccess.NONE,
        )
        return Built(name=name, nodes=BucketNodes(container=container), native=container, spec=spec)

    def link_properties(self, target: LinkTarget) -> dict[str, pulumi.Input[Any]]:
        account_url = self.provider.storage_name.apply(
            lambda n: f"https://{n}.blob.core.windows.net"
        )
        return {"account_url": account_url, "container": target.built.name}

    def grant(self, function: Component, target: LinkTarget) -> list[pulumi.Resource]:
        write = "write" in target.verbs
        role = BLOB_CONTRIBUTOR if write else BLOB_READER
        name = (
            f"{function.logical}-{target.logical}-{'blob-contributor' if write else 'blob-reader'}"
        )
        return [
            self.provider.assign(
                function,
                "grants",
                name,
                target.built.nodes.container.id,
                role,
                function.nodes.identity.principal_id,
            )
        ]
