"""Secret on AWS: a Secrets Manager secret, and its value when the stack holds one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from providers.base import Built, LinkTarget, Mapping
from spec.model import SecretSpec

from . import grant_actions

if TYPE_CHECKING:
    from components.base import Component

ACTIONS = {"read": ("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret")}


@dataclass
class SecretNodes:
    secret: aws.secretsmanager.Secret
    value: aws.secretsmanager.SecretVersion | None = None


class SecretOnAws(Mapping):
    kind = "secret"
    Nodes = SecretNodes

    def create(self, component: Component, spec: SecretSpec) -> Built[SecretNodes]:
        name = f"{self.ctx.app.name}-{component.logical}"
        secret = component.node(
            "secret",
            aws.secretsmanager.Secret,
            name,
            self.ctx.stateful_options(component),
            description=spec.description or None,
            # dev is destroyable at once; prod keeps the 30-day recovery window.
            recovery_window_in_days=None if self.ctx.prod else 0,
        )
        nodes = SecretNodes(secret=secret)
        # `pulumi config set --secret <logical> <value>` deploys the value; without it the secret
        # stays empty and the value is put in out of band.
        value = pulumi.Config().get_secret(component.logical)
        if value is not None:
            nodes.value = component.node(
                "value",
                aws.secretsmanager.SecretVersion,
                f"{name}-value",
                self.ctx.stateful_options(component),
                secret_id=secret.id,
                secret_string=value,
            )
        return Built(name=secret.name, nodes=nodes, native=secret, spec=spec)

    def link_properties(self, target: LinkTarget) -> dict[str, pulumi.Input[Any]]:
        return {"arn": target.built.nodes.secret.arn}

    def grant(self, function: Component, target: LinkTarget) -> list[pulumi.Resource]:
        return grant_actions(function, target, ACTIONS, target.built.nodes.secret.arn)
