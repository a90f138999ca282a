"""Secret on Google Cloud: a Secret Manager secret (and its value when the stack holds one)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_gcp as gcp

from providers.base import Built, LinkTarget, Mapping
from spec.model import SecretSpec

if TYPE_CHECKING:
    from components.base import Component


@dataclass
class SecretNodes:
    secret: gcp.secretmanager.Secret
    value: gcp.secretmanager.SecretVersion | None = None


class SecretOnGcp(Mapping):
    kind = "secret"
    Nodes = SecretNodes
    services = ("secretmanager.googleapis.com",)

    def create(self, component: Component, spec: SecretSpec) -> Built[SecretNodes]:
        provider, logical = self.provider, component.logical
        secret = component.node(
            "secret",
            gcp.secretmanager.Secret,
            provider.name(logical),
            provider.stateful(component),
            replication={"auto": {}},
            annotations={"description": spec.description} if spec.description else None,
            deletion_protection=self.ctx.prod,
        )
        nodes = SecretNodes(secret=secret)
        value = pulumi.Config().get_secret(logical)
        if value is not None:
            nodes.value = component.node(
                "value",
                gcp.secretmanager.SecretVersion,
                provider.name(logical),
                provider.stateful(component),
                secret=secret.id,
                secret_data=value,
            )
        return Built(name=secret.secret_id, nodes=nodes, native=secret, spec=spec)

    def link_properties(self, target: LinkTarget) -> dict[str, pulumi.Input[Any]]:
        secret = target.built.nodes.secret
        return {
            "name": pulumi.Output.concat(
                "projects/", self.provider.project, "/secrets/", secret.secret_id
            )
        }

    def grant(self, function: Component, target: LinkTarget) -> list[pulumi.Resource]:
        return [
            function.node(
                "grants",
                gcp.secretmanager.SecretIamMember,
                f"{function.logical}-{target.logical}-accessor",
                self.provider.opts(function),
                secret_id=target.built.nodes.secret.id,
                role="roles/secretmanager.secretAccessor",
                member=function.nodes.member,
            )
        ]
