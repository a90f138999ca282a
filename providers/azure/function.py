"""Function on Azure: one Function App per function on Flex Consumption, with its own user-assigned
identity, its package in a blob container, and its trigger wiring (Service Bus queue, or a topic
subscription with its filter rule; a timer takes only an app setting)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pulumi
import pulumi_azure_native as azure

from providers.base import Built, FunctionRequest, Mapping
from spec.capabilities import deliveries, round_memory
from spec.filters import servicebus_sql
from spec.model import QueueSpec
from spec.schedule import parse_schedule

from . import clock, host_id, iso_duration
from .sync import TriggerSync

if TYPE_CHECKING:
    from components.base import Component

# Flex Consumption's default maximum instance count, kept when a stack sets no max_instances.
DEFAULT_MAX_INSTANCES = 100


@dataclass
class FunctionNodes:
    identity: azure.managedidentity.UserAssignedIdentity
    plan: azure.web.AppServicePlan
    container: azure.storage.BlobContainer
    host_storage: azure.authorization.RoleAssignment
    app: azure.web.WebApp | None = None
    package: azure.storage.Blob | None = None
    # The trigger sync after each new package (sync.py).
    sync: TriggerSync | None = None
    # A topic subscriber's subscription and the rule that filters it.
    subscription: azure.servicebus.Subscription | None = None
    filter: azure.servicebus.DefaultRule | None = None
    # The receive right on the queue or the subscription.
    receive: azure.authorization.RoleAssignment | None = None
    # One data-plane role per link (made by the linked kind's mapping).
    grants: list[pulumi.Resource] = field(default_factory=list)


class FunctionOnAzure(Mapping):
    kind = "function"
    Nodes = FunctionNodes

    def create(
        self, component: Component, request: FunctionRequest, env: dict[str, pulumi.Input[str]]
    ) -> Built[FunctionNodes]:
        provider = self.provider
        logical, spec = request.logical, request.spec
        identity = component.node(
            "identity",
            azure.managedidentity.UserAssignedIdentity,
            f"{logical}-identity",
            resource_group_name=provider.rg_name,
        )
        # Flex Consumption hosts one app per plan.
        plan = component.node(
            "plan",
            azure.web.AppServicePlan,
            f"{logical}-plan",
            resource_group_name=provider.rg_name,
            kind="functionapp",
            reserved=True,
            sku=azure.web.SkuDescriptionArgs(name="FC1", tier="FlexConsumption"),
        )
        # The package container's name carries the code's hash: new code -> new container ->
        # changed app config -> the app restarts on the new package.
        slug = re.sub(r"-+", "-", logical)[:40]
        sha = request.artifact.sha256 if request.artifact is not None else None
        container = component.node(
            "container",
            azure.storage.BlobContainer,
            f"{logical}-package",
            account_name=provider.storage_name,
            resource_group_name=provider.rg_name,
            container_name=f"{slug}-{sha[:16]}" if sha else f"{slug}-package",
            public_access=azure.storage.PublicAccess.NONE,
        )
        depends: list[pulumi.Resource] = []
        package = None
        if request.artifact is not None:
            package = component.node(
                "package",
                azure.storage.Blob,
                f"{logical}-package",
                account_name=provider.storage_name,
                resource_group_name=provider.rg_name,
                container_name=container.name,
                blob_name="released-package.zip",  # the name Flex Consumption deploys from
                type=azure.storage.BlobType.BLOCK,
                content_type="application/zip",
                source=pulumi.FileAsset(str(request.artifact.path)),
            )
            depends.append(package)
        # The Functions host keeps leases, timers' schedule state and the package in blobs.
        host_storage = provider.assign(
            component,
            "host_storage",
            f"{logical}-host-storage",
            provider.nodes.storage.id,
            "blob-owner",
            identity.principal_id,
        )
        depends.append(host_storage)
        nodes = FunctionNodes(
            identity=identity,
            plan=plan,
            container=container,
            host_storage=host_storage,
            package=package,
        )

        settings: dict[str, pulumi.Input[str]] = dict(env)
        settings.update(
            {
                "AzureWebJobsStorage__accountName": provider.storage_name,
                "AzureWebJobsStorage__credential": "managedidentity",
                "AzureWebJobsStorage__clientId": identity.client_id,
                "AZURE_CLIENT_ID": identity.client_id,
                "APPLICATIONINSIGHTS_CONNECTION_STRING": provider.nodes.insights.connection_string,
                "AzureFunctionsJobHost__functionTimeout": clock(spec.timeout),
                # Every function app of the stack shares one storage account, where the host keeps its
                # state under its host ID; the default ID is the app name's first 32 characters, so two
                # long names would collide and the host stops with an error. An explicit ID per app
                # (github.com/Azure/azure-functions-host/wiki/Host-IDs) cannot collide.
                "AzureFunctionsWebHost__hostid": host_id(logical),
            }
        )
        if request.artifact is not None:
            # A new package must reach the running instances and the scale controller ("trigger
            # syncing", learn.microsoft.com/azure/azure-functions/functions-deployment-technologies
            # #trigger-syncing): a package in the deployment container is not picked up by itself.
            # Changing an app setting restarts the app (learn.microsoft.com/azure/azure-functions/
            # functions-app-settings), so this setting, new with every package, moves running
            # instances to it; the TriggerSync below then tells the scale controller its triggers.
            settings["OMNICLOUD_PACKAGE_SHA256"] = request.artifact.sha256
        depends += self._trigger(component, request, nodes, settings)

        always_ready = None
        if spec.min_instances:
            # HTTP functions warm the "http" group; others are named after their function in function_app.py.
            group = "http" if spec.http is not None else f"function:{logical}"
            always_ready = [
                azure.web.FunctionsAlwaysReadyConfigArgs(
                    name=group, instance_count=spec.min_instances
                )
            ]
        nodes.app = component.node(
            "app",
            azure.web.WebApp,
            logical,
            pulumi.ResourceOptions(
                parent=component, delete_before_replace=True, depends_on=depends
            ),
            name=provider.unique_name(f"{self.ctx.app.name}-{logical}", 60),
            resource_group_name=provider.rg_name,
            kind="functionapp,linux",
            server_farm_id=plan.id,
            https_only=True,
            identity=azure.web.ManagedServiceIdentityArgs(
                type=azure.web.ManagedServiceIdentityType.USER_ASSIGNED,
                user_assigned_identities=[identity.id],
            ),
            site_config=azure.web.SiteConfigArgs(
                app_settings=[
                    azure.web.NameValuePairArgs(name=k, value=v)
                    for k, v in sorted(settings.items())
                ],
                min_tls_version="1.2",
                ftps_state="Disabled",
            ),
            function_app_config=azure.web.FunctionAppConfigArgs(
                deployment=azure.web.FunctionsDeploymentArgs(
                    storage=azure.web.FunctionsDeploymentStorageArgs(
                        type="blobContainer",
                        value=pulumi.Output.concat(
                            "https://",
                            provider.storage_name,
                            ".blob.core.windows.net/",
                            container.name,
                        ),
                        authentication=azure.web.FunctionsDeploymentStorageAuthenticationArgs(
                            type="UserAssignedIdentity",
                            user_assigned_identity_resource_id=identity.id,
                        ),
                    )
                ),
                runtime=azure.web.FunctionsRuntimeArgs(name="python", version="3.11"),
                scale_and_concurrency=azure.web.FunctionsScaleAndConcurrencyArgs(
                    instance_memory_mb=round_memory("azure", spec.memory),
                    # max_instances caps the app's scale-out (40..1000 on Flex Consumption,
                    # learn.microsoft.com/azure/azure-functions/flex-consumption-plan#considerations).
                    maximum_instance_count=spec.max_instances or DEFAULT_MAX_INSTANCES,
                    always_ready=always_ready,
                ),
            ),
        )
        if request.artifact is not None:
            # The documented trigger sync (POST .../syncfunctiontriggers) after every new package
            # or app, as a step of `pulumi up`: without it the Service Bus, topic and timer
            # triggers of an externally deployed package may never scale out (see sync.py).
            nodes.sync = component.node(
                "sync",
                TriggerSync,
                f"{logical}-sync-triggers",
                pulumi.ResourceOptions(parent=component, depends_on=[nodes.app, *depends]),
                site_id=nodes.app.id,
                package_sha256=request.artifact.sha256,
                endpoint=provider.arm_endpoint,
            )
        return Built(name=nodes.app.name, nodes=nodes, native=nodes.app, spec=spec)

    def _trigger(
        self,
        component: Component,
        request: FunctionRequest,
        nodes: FunctionNodes,
        settings: dict[str, pulumi.Input[str]],
    ) -> list[pulumi.Resource]:
        """Trigger wiring: the app settings function_app.py's bindings read, and the receive
        right on exactly the queue or the subscription."""
        provider = self.provider
        logical, spec = request.logical, request.spec
        identity = nodes.identity
        if spec.schedule is not None:
            settings["OMNICLOUD_SCHEDULE"] = parse_schedule(spec.schedule).for_azure()
            return []
        if spec.queue is None and spec.topic is None:
            return []
        source = request.trigger_source
        if source is None:
            raise ValueError(
                f"azure: function {logical!r} has a {spec.trigger} trigger but no built source"
            )
        settings.update(
            {
                "ServiceBusConnection__fullyQualifiedNamespace": provider.bus_host,
                "ServiceBusConnection__credential": "managedidentity",
                "ServiceBusConnection__clientId": identity.client_id,
            }
        )
        if spec.queue is not None:
            settings["OMNICLOUD_TRIGGER_QUEUE"] = source.name
            queue_spec: QueueSpec = source.spec
            # The visibility timeout is how long one delivery may take; the host renews the
            # (at most 5-minute) lock until then.
            settings[
                "AzureFunctionsJobHost__extensions__serviceBus__maxAutoLockRenewalDuration"
            ] = clock(max(queue_spec.visibility_timeout, 300))
            nodes.receive = provider.assign(
                component,
                "receive",
                f"{logical}-receive",
                source.nodes.queue.id,
                "bus-receiver",
                identity.principal_id,
            )
            return [nodes.receive]

        assert spec.topic is not None
        subscription = component.node(
            "subscription",
            azure.servicebus.Subscription,
            f"{logical}-subscription",
            namespace_name=provider.nodes.bus.name,
            resource_group_name=provider.rg_name,
            topic_name=source.name,
            subscription_name=logical,
            # The subscriber's retries: Service Bus moves a message to the subscription's dead-letter
            # queue once its delivery count passes maxDeliveryCount (learn.microsoft.com/azure/
            # service-bus-messaging/service-bus-dead-letter-queues), here max_retries + 1 ("Minimum
            # value is 1", learn.microsoft.com/dotnet/api/azure.messaging.servicebus.administration.
            # queueproperties.maxdeliverycount).
            max_delivery_count=deliveries("azure", spec.topic.max_retries),
            # Topics have no visibility timeout of their own: a delivery may take the function's timeout.
            lock_duration=iso_duration(min(max(spec.timeout, 30), 300)),
            dead_lettering_on_message_expiration=True,
            dead_lettering_on_filter_evaluation_exceptions=True,
        )
        nodes.subscription = subscription
        wiring: list[pulumi.Resource] = [subscription]
        if spec.topic.filter:
            # ARM gives every subscription a `$Default` rule with a TrueFilter; an extra rule would
            # be OR-ed with it and filter nothing, so the filter replaces the $Default rule itself.
            # Until it does (a new subscription's first seconds), every message reaches the
            # subscription: ARM cannot create a subscription with its rule in one request. The
            # subscriber tolerates that window: the adapter completes, without running the
            # handler, any message OMNICLOUD_TRIGGER_FILTER does not match (runtime/filters.py).
            settings["OMNICLOUD_TRIGGER_FILTER"] = json.dumps(
                spec.topic.filter, sort_keys=True, separators=(",", ":")
            )
            nodes.filter = component.node(
                "filter",
                azure.servicebus.DefaultRule,
                f"{logical}-filter",
                namespace_name=provider.nodes.bus.name,
                resource_group_name=provider.rg_name,
                topic_name=source.name,
                subscription_name=subscription.name,
                filter_type="SqlFilter",
                sql_filter=azure.servicebus.SqlFilterArgs(
                    sql_expression=servicebus_sql(spec.topic.filter)
                ),
            )
            wiring.append(nodes.filter)
        settings["OMNICLOUD_TRIGGER_TOPIC"] = source.name
        settings["OMNICLOUD_TRIGGER_SUBSCRIPTION"] = subscription.name
        nodes.receive = provider.assign(
            component,
            "receive",
            f"{logical}-receive",
            subscription.id,
            "bus-receiver",
            identity.principal_id,
        )
        wiring.append(nodes.receive)
        return wiring
