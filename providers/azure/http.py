"""HttpApi on Azure: API Management (Consumption) in front of the function apps, an API per
function, sending the app's host key so only API Management can call it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pulumi
import pulumi_azure_native as azure

from providers.base import Built, Mapping

if TYPE_CHECKING:
    from components.base import Component
    from components.function import Function

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
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


@dataclass
class HttpNodes:
    service: azure.apimanagement.ApiManagementService
    apis: list[azure.apimanagement.Api] = field(default_factory=list)
    keys: list[azure.apimanagement.NamedValue] = field(default_factory=list)
    policies: list[azure.apimanagement.ApiPolicy] = field(default_factory=list)
    operations: list[azure.apimanagement.ApiOperation] = field(default_factory=list)


class HttpOnAzure(Mapping):
    kind = "http"
    Nodes = HttpNodes

    def create(self, component: Component, routes: list[tuple[str, Function]]) -> Built[HttpNodes]:
        provider, logical = self.provider, component.logical
        app = self.ctx.app.name
        config = pulumi.Config("omnicloud")
        # A deleted API Management service keeps its name 48 hours (soft delete), so the service
        # is never deleted before its replacement exists: a replacement has a new suffix, hence a
        # new name, and is created first (see unique_name).
        service = component.node(
            "service",
            azure.apimanagement.ApiManagementService,
            f"{logical}-gateway",
            service_name=provider.unique_name(f"{app}-{logical}", 50),
            resource_group_name=provider.rg_name,
            sku=azure.apimanagement.ApiManagementServiceSkuPropertiesArgs(
                name="Consumption", capacity=0
            ),
            publisher_name=config.get("publisher_name") or app,
            publisher_email=config.get("publisher_email") or f"{app}@example.com",
            # Undeletes the soft-deleted service of this name instead of creating one
            # (learn.microsoft.com/azure/api-management/soft-delete#recover-a-soft-deleted-instance).
            restore=True if "api-management" in provider.recover else None,
        )
        nodes = HttpNodes(service=service)
        for prefix, function in routes:
            fn = function.logical
            # The API path is the prefix; APIM strips it, so the backend URL puts it back and the
            # function (routePrefix "") sees the same path as on every other cloud.
            api = component.node(
                "apis",
                azure.apimanagement.Api,
                f"{logical}-{fn}",
                api_id=fn,
                service_name=service.name,
                resource_group_name=provider.rg_name,
                display_name=f"{app} {fn}",
                path=prefix.strip("/"),
                protocols=["https"],
                service_url=pulumi.Output.concat(
                    "https://", function.nodes.app.default_host_name, prefix.rstrip("/")
                ),
                subscription_required=False,
            )
            nodes.apis.append(api)
            self._function_key(component, nodes, function, service, api)
            for method in HTTP_METHODS:
                nodes.operations.append(
                    component.node(
                        "operations",
                        azure.apimanagement.ApiOperation,
                        f"{logical}-{fn}-{method.lower()}",
                        api_id=api.name,
                        operation_id=method.lower(),
                        service_name=service.name,
                        resource_group_name=provider.rg_name,
                        display_name=f"{method} {prefix}*",
                        method=method,
                        url_template="/*",
                    )
                )
        return Built(name=service.name, nodes=nodes, native=service, url=service.gateway_url)

    def _function_key(
        self,
        component: Component,
        nodes: HttpNodes,
        function: Function,
        service: azure.apimanagement.ApiManagementService,
        api: azure.apimanagement.Api,
    ) -> None:
        """Only API Management may call the Function App: its HTTP trigger takes authLevel
        `function` (function_app.py), so the host refuses a request without a key, and APIM sends
        the app's default host key, kept as a secret named value, in `x-functions-key` (the way
        APIM's own Function App import does it: learn.microsoft.com/azure/api-management/
        import-function-app-as-api). APIM Consumption has no fixed outbound address, so IP access
        restrictions cannot single it out (learn.microsoft.com/azure/api-management/
        api-management-howto-ip-addresses); AWS and GCP functions are reachable only through
        their gateway too (IAM), so Azure matches them."""
        logical, fn, rg_name = component.logical, function.logical, self.provider.rg_name
        keys = azure.web.list_web_app_host_keys_output(
            name=function.nodes.app.name,
            resource_group_name=rg_name,
            opts=pulumi.InvokeOutputOptions(parent=component),
        )
        key_name = f"{fn}-functions-key"
        nodes.keys.append(
            component.node(
                "keys",
                azure.apimanagement.NamedValue,
                f"{logical}-{fn}-key",
                named_value_id=key_name,
                display_name=key_name,
                secret=True,
                value=pulumi.Output.secret(
                    keys.function_keys.apply(lambda found: (found or {})["default"])
                ),
                service_name=service.name,
                resource_group_name=rg_name,
            )
        )
        nodes.policies.append(
            component.node(
                "policies",
                azure.apimanagement.ApiPolicy,
                f"{logical}-{fn}-policy",
                api_id=api.name,
                policy_id="policy",
                format="xml",
                value=FUNCTION_KEY_POLICY.format(named_value=key_name),
                service_name=service.name,
                resource_group_name=rg_name,
            )
        )
