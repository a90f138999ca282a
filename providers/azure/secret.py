"""Secret on Azure: a Key Vault secret in the app's vault (RBAC), read through Key Vault Secrets User."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_azure_native as azure

from providers.base import Built, LinkTarget, Mapping
from spec.model import SecretSpec

from . import UNSET_SECRET

if TYPE_CHECKING:
    from components.base import Component


@dataclass
class SecretNodes:
    secret: azure.keyvault.Secret


class SecretOnAzure(Mapping):
    kind = "secret"
    Nodes = SecretNodes

    def create(self, component: Component, spec: SecretSpec) -> Built[SecretNodes]:
        logical = component.logical
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
        secret = component.node(
            "secret",
            azure.keyvault.Secret,
            logical,
            self.ctx.stateful_options(component, ignore_changes=ignore or None),
            vault_name=self.provider.nodes.vault.name,
            resource_group_name=self.provider.rg_name,
            secret_name=logical,
            properties=azure.keyvault.SecretPropertiesArgs(
                value=value, content_type=spec.description or None
            ),
        )
        return Built(name=logical, nodes=SecretNodes(secret=secret), native=secret, spec=spec)

    def link_properties(self, target: LinkTarget) -> dict[str, pulumi.Input[Any]]:
        return {"vault_url": self.provider.vault_url, "name": target.built.name}

    def grant(self, function: Component, target: LinkTarget) -> list[pulumi.Resource]:
        return [
            self.provider.assign(
                function,
                "grants",
                f"{function.logical}-{target.logical}-secrets-user",
                target.built.nodes.secret.id,
                "secrets-user",
                function.nodes.identity.principal_id,
            )
        ]
