"""HttpApi on Google Cloud: API Gateway in front of the HTTP functions (an OpenAPI 2.0 document with
an `x-google-backend` per prefix), calling them as an account that may invoke only them."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_gcp as gcp

from providers.base import Built, Mapping

from . import fit_name

if TYPE_CHECKING:
    from components.base import Component
    from components.function import Function

HTTP_METHODS = ("get", "post", "put", "patch", "delete", "options", "head")


@dataclass
class HttpNodes:
    account: gcp.serviceaccount.Account
    api: gcp.apigateway.Api | None = None
    config: gcp.apigateway.ApiConfig | None = None
    gateway: gcp.apigateway.Gateway | None = None
    invokers: list[gcp.cloudrunv2.ServiceIamMember] = field(default_factory=list)


class HttpOnGcp(Mapping):
    kind = "http"
    Nodes = HttpNodes
    services = (
        "apigateway.googleapis.com",
        "servicemanagement.googleapis.com",
        "servicecontrol.googleapis.com",
    )

    def create(self, component: Component, routes: list[tuple[str, Function]]) -> Built[HttpNodes]:
        provider, logical = self.provider, component.logical
        # API Gateway matches `{path=**}` (any depth, last segment), which is exactly a prefix route.
        account = provider.service_account(
            component, "account", logical, "gw", "API Gateway calls the HTTP functions"
        )
        member = provider.member(account)
        nodes = HttpNodes(account=account)
        nodes.invokers = [
            provider.invoker(
                component,
                "invokers",
                f"{logical}-{function.logical}-invoker",
                function.nodes.function,
                member,
            )
            for _, function in routes
        ]
        api_id = fit_name(provider.name(logical), 63)
        nodes.api = component.node(
            "api",
            gcp.apigateway.Api,
            provider.name(logical),
            provider.opts(component, delete_before_replace=True),
            api_id=api_id,
            display_name=f"{provider.prefix} {logical}",
        )
        backends = [
            (prefix, function.logical, function.built.spec.timeout) for prefix, function in routes
        ]
        document = pulumi.Output.all(*[function.nodes.url for _, function in routes]).apply(
            lambda urls: _b64(
                openapi_document(
                    f"{provider.prefix} {logical}",
                    [
                        (prefix, fn_logical, url, timeout)
                        for (prefix, fn_logical, timeout), url in zip(backends, urls, strict=True)
                    ],
                )
            )
        )
        nodes.config = component.node(
            "config",
            gcp.apigateway.ApiConfig,
            provider.name(logical),
            provider.opts(component),
            api=nodes.api.api_id,
            # Configs are immutable: a new id per change, created before the old one is dropped.
            api_config_id_prefix=f"{api_id[:30].rstrip('-')}-",
            display_name=f"{provider.prefix} {logical}",
            openapi_documents=[{"document": {"path": "openapi.json", "contents": document}}],
            gateway_config={"backend_config": {"google_service_account": account.email}},
        )
        nodes.gateway = component.node(
            "gateway",
            gcp.apigateway.Gateway,
            provider.name(logical),
            provider.opts(component, after=nodes.invokers, delete_before_replace=True),
            gateway_id=fit_name(provider.name(logical), 49),
            api_config=nodes.config.id,
            region=provider.region,
            display_name=f"{provider.prefix} {logical}",
        )
        url = pulumi.Output.concat("https://", nodes.gateway.default_hostname)
        return Built(name=nodes.gateway.gateway_id, nodes=nodes, native=nodes.gateway, url=url)


def openapi_document(title: str, routes: list[tuple[str, str, str, int]]) -> dict[str, Any]:
    """OpenAPI 2.0 for API Gateway: each (prefix, function, url, timeout) serves the prefix and
    everything below it, forwarding the full path to the function with an OIDC token for its URL."""
    paths: dict[str, Any] = {}
    # Longest prefix first, so a reader sees the most specific route first.
    for prefix, fn_logical, url, timeout in sorted(routes, key=lambda r: -len(r[0])):
        backend = {
            "address": url,
            "jwt_audience": url,
            "path_translation": "APPEND_PATH_TO_ADDRESS",
            "deadline": float(timeout),
        }
        base = prefix.rstrip("/")
        templates = [f"{base}/{{path=**}}"] if not base else [base, f"{base}/{{path=**}}"]
        for template in templates:
            wildcard = "{path=**}" in template
            item: dict[str, Any] = {}
            for method in HTTP_METHODS:
                operation: dict[str, Any] = {
                    "operationId": _operation_id(fn_logical, method, template),
                    "x-google-backend": backend,
                    "responses": {"default": {"description": "the function's response"}},
                }
                if wildcard:
                    operation["parameters"] = [
                        {"name": "path", "in": "path", "required": True, "type": "string"}
                    ]
                item[method] = operation
            paths[template] = item
    return {
        "swagger": "2.0",
        "info": {"title": title, "version": "1.0.0"},
        "schemes": ["https"],
        "produces": ["application/json"],
        "paths": paths,
    }


def _operation_id(fn_logical: str, method: str, template: str) -> str:
    words = re.sub(r"[^A-Za-z0-9]+", "_", f"{fn_logical}_{method}_{template}").strip("_")
    return words or f"{fn_logical}_{method}"


def _b64(document: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(document, sort_keys=True, indent=1).encode()).decode()
