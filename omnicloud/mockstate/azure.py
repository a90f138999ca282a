"""What Azure would compute for each azure-native resource under preview: ARM ids, auto-names,
hostnames, identity ids and the client config (a fixed, obviously fake subscription and tenant)."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

SUBSCRIPTION_ID = "00000000-0000-4000-8000-00000000feed"
TENANT_ID = "00000000-0000-4000-8000-0000000000aa"
OBJECT_ID = "00000000-0000-4000-8000-0000000000bb"
CLIENT_ID = "00000000-0000-4000-8000-0000000000cc"

# type -> (ARM provider path below the resource group, input holding the explicit name,
#          parent path segments as (input, ARM segment) pairs)
_ARM: dict[str, tuple[str, str, tuple[tuple[str, str], ...]]] = {
    "azure-native:storage:StorageAccount": ("Microsoft.Storage/storageAccounts", "accountName", ()),
    "azure-native:storage:Table": ("Microsoft.Storage/storageAccounts", "tableName",
                                   (("accountName", ""), ("", "tableServices/default/tables"))),
    "azure-native:storage:BlobContainer": ("Microsoft.Storage/storageAccounts", "containerName",
                                           (("accountName", ""), ("", "blobServices/default/containers"))),
    "azure-native:storage:Blob": ("Microsoft.Storage/storageAccounts", "blobName",
                                  (("accountName", ""), ("", "blobServices/default/containers"),
                                   ("containerName", ""), ("", "blobs"))),
    "azure-native:servicebus:Namespace": ("Microsoft.ServiceBus/namespaces", "namespaceName", ()),
    "azure-native:servicebus:Queue": ("Microsoft.ServiceBus/namespaces", "queueName",
                                      (("namespaceName", ""), ("", "queues"))),
    "azure-native:servicebus:Topic": ("Microsoft.ServiceBus/namespaces", "topicName",
                                      (("namespaceName", ""), ("", "topics"))),
    "azure-native:servicebus:Subscription": ("Microsoft.ServiceBus/namespaces", "subscriptionName",
                                             (("namespaceName", ""), ("", "topics"), ("topicName", ""),
                                              ("", "subscriptions"))),
    "azure-native:servicebus:Rule": ("Microsoft.ServiceBus/namespaces", "ruleName",
                                     (("namespaceName", ""), ("", "topics"), ("topicName", ""),
                                      ("", "subscriptions"), ("subscriptionName", ""), ("", "rules"))),
    "azure-native:keyvault:Vault": ("Microsoft.KeyVault/vaults", "vaultName", ()),
    "azure-native:keyvault:Secret": ("Microsoft.KeyVault/vaults", "secretName", (("vaultName", ""), ("", "secrets"))),
    "azure-native:operationalinsights:Workspace": ("Microsoft.OperationalInsights/workspaces", "workspaceName", ()),
    "azure-native:applicationinsights:Component": ("Microsoft.Insights/components", "resourceName", ()),
    "azure-native:managedidentity:UserAssignedIdentity": (
        "Microsoft.ManagedIdentity/userAssignedIdentities", "resourceName", ()),
    "azure-native:web:AppServicePlan": ("Microsoft.Web/serverfarms", "name", ()),
    "azure-native:web:WebApp": ("Microsoft.Web/sites", "name", ()),
    "azure-native:cosmosdb:DatabaseAccount": ("Microsoft.DocumentDB/databaseAccounts", "accountName", ()),
    "azure-native:cosmosdb:TableResourceTable": ("Microsoft.DocumentDB/databaseAccounts", "tableName",
                                                 (("accountName", ""), ("", "tables"))),
    "azure-native:cosmosdb:TableResourceTableRoleAssignment": (
        "Microsoft.DocumentDB/databaseAccounts", "roleAssignmentId", (("accountName", ""), ("", "tableRoleAssignments"))),
    "azure-native:apimanagement:ApiManagementService": ("Microsoft.ApiManagement/service", "serviceName", ()),
    "azure-native:apimanagement:Api": ("Microsoft.ApiManagement/service", "apiId",
                                       (("serviceName", ""), ("", "apis"))),
    "azure-native:apimanagement:ApiOperation": ("Microsoft.ApiManagement/service", "operationId",
                                                (("serviceName", ""), ("", "apis"), ("apiId", ""),
                                                 ("", "operations"))),
    "azure-native:apimanagement:ApiPolicy": ("Microsoft.ApiManagement/service", "policyId",
                                             (("serviceName", ""), ("", "apis"), ("apiId", ""),
                                              ("", "policies"))),
    "azure-native:apimanagement:NamedValue": ("Microsoft.ApiManagement/service", "namedValueId",
                                              (("serviceName", ""), ("", "namedValues"))),
}
# Stands in for the randomness of a deployment: change it to preview what a stack created anew
# (after `pulumi destroy`, or by another team) would get. The preview itself stays deterministic.
DEPLOYMENT = "preview"
RANDOM_STRING = "random:index/randomString:RandomString"


def _suffix(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:8]


def _guid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


def auto_name(type_: str, name: str) -> str:
    """What azure-native auto-naming would pick: the resource name plus a random-looking suffix."""
    if type_ == "azure-native:storage:StorageAccount":
        return ("".join(c for c in name.lower() if c.isalnum()) + _suffix(name))[:24]
    return f"{name}{_suffix(name)}"


def random_string(name: str, inputs: dict[str, Any]) -> str:
    """What pulumi-random draws: `length` characters of the alphabet the inputs allow, here derived
    from the stack, the resource, its keepers and DEPLOYMENT (a new draw when any changes)."""
    from pulumi.runtime.settings import get_stack

    try:
        stack = get_stack()
    except Exception:  # outside a program run (a test reading a recorded resource)
        stack = "stack"
    alphabet = ("abcdefghijklmnopqrstuvwxyz" if inputs.get("lower", True) else "") + (
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if inputs.get("upper", True) else "") + (
        "0123456789" if inputs.get("numeric", True) else "")
    seed = hashlib.sha256("/".join((DEPLOYMENT, stack, name, repr(sorted(
        (inputs.get("keepers") or {}).items())))).encode()).digest()
    return "".join(alphabet[byte % len(alphabet)] for byte in (seed * 4)[: int(inputs["length"])])


def state(type_: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    out = dict(inputs)
    if type_ == RANDOM_STRING:
        out["result"] = random_string(name, inputs)
        return "none", out
    rg_prefix = f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{inputs.get('resourceGroupName', '')}"
    if type_ == "azure-native:resources:ResourceGroup":
        physical = inputs.get("resourceGroupName") or auto_name(type_, name)
        out.update(name=physical, location=inputs.get("location") or "westeurope")
        return f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{physical}", out
    if type_ == "azure-native:authorization:RoleAssignment":
        physical = inputs.get("roleAssignmentName") or _guid(name)
        out.update(name=physical, principalType=inputs.get("principalType"))
        return f"{inputs['scope']}/providers/Microsoft.Authorization/roleAssignments/{physical}", out
    if type_ == "azure-native:authorization:ManagementLockByScope":
        physical = inputs.get("lockName") or auto_name(type_, name)
        out["name"] = physical
        return f"{inputs['scope']}/providers/Microsoft.Authorization/locks/{physical}", out
    if type_ == "azure-native:servicebus:DefaultRule":
        out["name"] = "$Default"
        sub = f"{rg_prefix}/providers/Microsoft.ServiceBus/namespaces/{inputs['namespaceName']}/topics/" \
              f"{inputs['topicName']}/subscriptions/{inputs['subscriptionName']}"
        return f"{sub}/rules/$Default", out
    if type_ not in _ARM:
        return f"{rg_prefix}/providers/unknown/{name}", out

    provider_path, name_key, parents = _ARM[type_]
    physical = inputs.get(name_key) or auto_name(type_, name)
    segments = [provider_path]
    for key, segment in parents:
        segments.append(str(inputs.get(key, "")) if key else segment)
    resource_id = f"{rg_prefix}/providers/{'/'.join(segments)}/{physical}"
    out["name"] = physical
    out.update(_computed(type_, name, physical, inputs))
    return resource_id, out


def _computed(type_: str, name: str, physical: str, inputs: dict[str, Any]) -> dict[str, Any]:
    if type_ == "azure-native:web:WebApp":
        out: dict[str, Any] = {"defaultHostName": f"{physical}.azurewebsites.net"}
        identity = inputs.get("identity")
        if identity:
            # ARM answers the list of identity ids with a map of id -> principal/client ids.
            ids = identity.get("userAssignedIdentities") or []
            out["identity"] = {"type": identity.get("type"), "userAssignedIdentities": {
                i: {"principalId": _guid("principal", i), "clientId": _guid("client", i)} for i in ids}}
        return out
    if type_ == "azure-native:managedidentity:UserAssignedIdentity":
        return {"principalId": _guid("principal", name), "clientId": _guid("client", name), "tenantId": TENANT_ID}
    if type_ == "azure-native:applicationinsights:Component":
        key = _guid("instrumentation", name)
        return {"instrumentationKey": key,
                "connectionString": f"InstrumentationKey={key};IngestionEndpoint="
                                    "https://westeurope-5.in.applicationinsights.azure.com/"}
    if type_ == "azure-native:apimanagement:ApiManagementService":
        return {"gatewayUrl": f"https://{physical}.azure-api.net"}
    if type_ == "azure-native:servicebus:Namespace":
        return {"serviceBusEndpoint": f"https://{physical}.servicebus.windows.net:443/"}
    if type_ == "azure-native:keyvault:Vault":
        return {"properties": {**(inputs.get("properties") or {}), "vaultUri": f"https://{physical}.vault.azure.net/"}}
    if type_ == "azure-native:storage:StorageAccount":
        return {"primaryEndpoints": {kind: f"https://{physical}.{kind}.core.windows.net/"
                                     for kind in ("blob", "table", "queue", "file")}}
    if type_ == "azure-native:cosmosdb:DatabaseAccount":
        return {"documentEndpoint": f"https://{physical}.documents.azure.com:443/"}
    return {}


def call(token: str, args: dict[str, Any]) -> dict[str, Any]:
    if token == "azure-native:web:listWebAppHostKeys":
        # The host's keys (the Functions host makes them on first start; here derived from the app).
        app = str(args.get("name", ""))
        return {"masterKey": _guid("master-key", app), "functionKeys": {"default": _guid("default-key", app)},
                "systemKeys": {}}
    if token == "azure-native:authorization:getClientConfig":
        return {"clientId": CLIENT_ID, "objectId": OBJECT_ID, "subscriptionId": SUBSCRIPTION_ID, "tenantId": TENANT_ID}
    return {}
