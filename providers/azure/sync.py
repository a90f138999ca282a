"""Trigger sync for a Function App, as a step of `pulumi up`.

A Flex Consumption app deploys from a package in its deployment container. A package placed there
directly (as this provider does, from the packaged artifact) is an "external package" deployment,
after which the Functions infrastructure must be told about the app's triggers ("trigger syncing",
learn.microsoft.com/azure/azure-functions/functions-deployment-technologies#trigger-syncing): until
it is, the scale controller does not know the Service Bus, topic and timer triggers and may never
start an instance for them. The documented call is an HTTP POST to the app's
`syncfunctiontriggers` ARM operation (WebApps_SyncFunctionTriggers,
learn.microsoft.com/rest/api/appservice/web-apps/sync-function-triggers). azure-native exposes no
resource or invoke for it, so it is a Pulumi dynamic resource (pulumi.com/docs/iac/concepts/
resources/dynamic-providers): created with the app, updated (the POST again) whenever the app's
package or the app itself changes, and nothing to delete.

The provider runs inside the Pulumi program's process during `pulumi up`, with the deployer's
Azure credential (azure-identity's DefaultAzureCredential: the same `az login`, environment or
managed identity that azure-native uses). It follows no redirect, retries only what ARM marks as
retryable (429 and 5xx, honouring Retry-After within a bound), and a refusal fails the deployment
with one line naming the app and ARM's own error.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, Protocol

import pulumi
from pulumi import dynamic

# ARM's management endpoint per azure-native `environment` setting
# (learn.microsoft.com/azure/azure-government/compare-azure-government-global-azure,
# learn.microsoft.com/azure/china/resources-developer-guide).
ARM_ENDPOINTS = {
    "public": "https://management.azure.com",
    "usgovernment": "https://management.usgovcloudapi.net",
    "china": "https://management.chinacloudapi.cn",
}
# The WebApps operations' API version azure-native 3.x's web module uses.
API_VERSION = "2024-04-01"
ATTEMPTS = 5
MAX_WAIT_S = 30.0
TIMEOUT_S = 60.0


class AzureConfigError(pulumi.RunError, ValueError):
    """An `azure-native:*` stack setting omnicloud cannot use; the message is one line."""


def arm_endpoint() -> str:
    """ARM's endpoint for the stack's `azure-native:environment` (public when unset)."""
    environment = pulumi.Config("azure-native").get("environment") or "public"
    if environment not in ARM_ENDPOINTS:
        raise AzureConfigError(
            f"azure-native:environment is {environment!r}; use one of {', '.join(ARM_ENDPOINTS)}"
        )
    return ARM_ENDPOINTS[environment]


class TriggerSyncError(Exception):
    """ARM refused or kept failing the trigger sync; the message is one line."""


class Credential(Protocol):
    def get_token(self, *scopes: str) -> Any: ...


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an error here: the bearer token is for ARM only and must not follow one."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102 - urllib's hook
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _default_credential() -> Credential:
    from azure.identity import DefaultAzureCredential  # deploy time only

    return DefaultAzureCredential()


def _arm_error(body: bytes) -> str:
    """ARM's error as `Code: message`, or the start of the body when it is not ARM's JSON."""
    try:
        error = json.loads(body or b"{}").get("error") or {}
        if error:
            return f"{error.get('code', 'Error')}: {error.get('message', '')}".strip()
    except (ValueError, AttributeError):
        pass
    return body[:200].decode("utf-8", "replace").strip() or "no response body"


def sync_triggers(
    site_id: str,
    *,
    endpoint: str = ARM_ENDPOINTS["public"],
    credential: Credential | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """POST `{site_id}/syncfunctiontriggers`; returns the number of attempts it took.

    `site_id` is the app's ARM id (/subscriptions/../providers/Microsoft.Web/sites/<name>)."""
    if not site_id.startswith("/subscriptions/") or "/providers/Microsoft.Web/sites/" not in site_id:
        raise TriggerSyncError(f"sync triggers: {site_id!r} is not a Function App's ARM id")
    credential = credential or _default_credential()
    endpoint = endpoint.rstrip("/")
    url = f"{endpoint}{site_id}/syncfunctiontriggers?api-version={API_VERSION}"
    app = site_id.rsplit("/", 1)[-1]
    last = ""
    for attempt in range(1, ATTEMPTS + 1):
        token = credential.get_token(f"{endpoint}/.default").token
        request = urllib.request.Request(
            url,
            data=b"",
            method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Length": "0"},
        )
        try:
            with _opener.open(request, timeout=TIMEOUT_S) as response:
                response.read()
                return attempt
        except urllib.error.HTTPError as exc:
            body = exc.read()
            last = f"HTTP {exc.code} {_arm_error(body)}"
            if exc.code != 429 and exc.code < 500:
                raise TriggerSyncError(
                    f"sync triggers of Function App {app}: ARM answered {last}"
                    + ("; a redirect is not followed" if 300 <= exc.code < 400 else "")
                ) from None
            retry_after = exc.headers.get("Retry-After", "")
            wait = float(retry_after) if retry_after.isdigit() else 2.0 ** attempt
        except urllib.error.URLError as exc:
            last = f"cannot reach {endpoint}: {exc.reason}"
            wait = 2.0 ** attempt
        if attempt < ATTEMPTS:
            sleep(min(wait, MAX_WAIT_S))
    raise TriggerSyncError(f"sync triggers of Function App {app}: gave up after {ATTEMPTS} attempts ({last})")


# What makes a new sync necessary: the app (replaced app, new id) or its package.
WATCHED = ("site_id", "package_sha256", "endpoint")


class TriggerSyncProvider(dynamic.ResourceProvider):
    # The provider holds no secret; its serialized form need not be one.
    serialize_as_secret_always = False

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        sync_triggers(props["site_id"], endpoint=props["endpoint"])
        return dynamic.CreateResult(f"{props['site_id']}/syncfunctiontriggers", outs=dict(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        changed = [key for key in WATCHED if olds.get(key) != news.get(key)]
        return dynamic.DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        sync_triggers(news["site_id"], endpoint=news["endpoint"])
        return dynamic.UpdateResult(outs=dict(news))


class TriggerSync(dynamic.Resource, module="omnicloud-azure", name="TriggerSync"):
    """Syncs the triggers of the Function App `site_id` after each new `package_sha256`."""

    def __init__(
        self,
        name: str,
        *,
        site_id: pulumi.Input[str],
        package_sha256: str,
        endpoint: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            TriggerSyncProvider(),
            name,
            {"site_id": site_id, "package_sha256": package_sha256, "endpoint": endpoint},
            opts,
        )
