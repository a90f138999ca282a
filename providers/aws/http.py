"""HttpApi on AWS: one API Gateway HTTP API, an `ANY /prefix/{proxy+}` route per function."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from providers.base import Built, Mapping

if TYPE_CHECKING:
    from components.base import Component
    from components.function import Function


@dataclass
class HttpNodes:
    api: aws.apigatewayv2.Api
    stage: aws.apigatewayv2.Stage | None = None
    integrations: list[aws.apigatewayv2.Integration] = field(default_factory=list)
    routes: list[aws.apigatewayv2.Route] = field(default_factory=list)
    permissions: list[aws.lambda_.Permission] = field(default_factory=list)


class HttpOnAws(Mapping):
    kind = "http"
    Nodes = HttpNodes

    def create(self, component: Component, routes: list[tuple[str, Function]]) -> Built[HttpNodes]:
        name = f"{self.ctx.app.name}-{component.logical}"
        api = component.node(
            "api",
            aws.apigatewayv2.Api,
            name,
            protocol_type="HTTP",
            description=f"{self.ctx.app.name} HTTP entry point",
        )
        nodes = HttpNodes(api=api)
        for prefix, function in routes:
            fname, target = function.logical, function.nodes
            integration = component.node(
                "integrations",
                aws.apigatewayv2.Integration,
                f"{name}-{fname}",
                api_id=api.id,
                integration_type="AWS_PROXY",
                integration_method="POST",
                integration_uri=target.invoke_arn,
                payload_format_version="2.0",
            )
            nodes.integrations.append(integration)
            paths = [None] if prefix == "/" else [prefix, f"{prefix}/{{proxy+}}"]
            for path in paths:
                suffix = "default" if path is None else ("prefix" if path == prefix else "proxy")
                nodes.routes.append(
                    component.node(
                        "routes",
                        aws.apigatewayv2.Route,
                        f"{name}-{fname}-{suffix}",
                        api_id=api.id,
                        route_key="$default" if path is None else f"ANY {path}",
                        target=integration.id.apply(lambda i: f"integrations/{i}"),
                    )
                )
                # Scoped to this API and this route, as narrow as API Gateway's source ARNs go:
                # <api>/<stage>/<method><route path>. Stage and method stay open because the route is
                # ANY and the API has only the $default stage; the catch-all $default route has no
                # path, so its grant covers the API (all of whose other routes are ours).
                nodes.permissions.append(
                    component.node(
                        "permissions",
                        aws.lambda_.Permission,
                        f"{name}-{fname}-{suffix}",
                        pulumi.ResourceOptions(parent=component, depends_on=target.ready),
                        action="lambda:InvokeFunction",
                        function=target.function.name,
                        qualifier=target.qualifier,
                        principal="apigateway.amazonaws.com",
                        source_arn=api.execution_arn.apply(
                            lambda arn, p=path: f"{arn}/*/*{p or ''}"
                        ),
                    )
                )
        nodes.stage = component.node(
            "stage",
            aws.apigatewayv2.Stage,
            f"{name}-default",
            api_id=api.id,
            name="$default",
            auto_deploy=True,
        )
        return Built(name=api.name, nodes=nodes, native=api, url=api.api_endpoint)
