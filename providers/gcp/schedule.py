"""Schedule on Google Cloud: a Cloud Scheduler job calling the function with an OIDC token of an
account that may invoke only it."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi_gcp as gcp

from providers.base import Built, Mapping
from spec.schedule import Schedule

if TYPE_CHECKING:
    from components.base import Component
    from components.function import Function


@dataclass
class ScheduleNodes:
    account: gcp.serviceaccount.Account
    invoker: gcp.cloudrunv2.ServiceIamMember
    job: gcp.cloudscheduler.Job


class ScheduleOnGcp(Mapping):
    kind = "schedule"
    Nodes = ScheduleNodes
    services = ("cloudscheduler.googleapis.com",)

    def create(
        self, component: Component, schedule: Schedule, function: Function
    ) -> Built[ScheduleNodes]:
        provider, logical = self.provider, component.logical
        fn_logical, target = function.logical, function.nodes
        account = provider.service_account(
            component, "account", fn_logical, "sched", "Cloud Scheduler calls the function"
        )
        invoker = provider.invoker(
            component, "invoker", f"{logical}-invoker", target.function, provider.member(account)
        )
        url = target.url
        body = json.dumps({"omnicloud-schedule": fn_logical}, separators=(",", ":"))
        timeout = function.built.spec.timeout
        job = component.node(
            "job",
            gcp.cloudscheduler.Job,
            provider.name(logical),
            provider.opts(component, after=[invoker]),
            region=provider.region,
            description=f"{provider.prefix} {fn_logical}: {schedule.describe()} (UTC)",
            schedule=schedule.for_gcp(),
            time_zone="Etc/UTC",
            # Cloud Scheduler waits 15 s to 30 min for an HTTP target.
            attempt_deadline=f"{min(max(timeout, 15), 1800)}s",
            retry_config={"retry_count": 0},
            http_target={
                "uri": url,
                "http_method": "POST",
                "headers": {"Content-Type": "application/json"},
                "body": base64.b64encode(body.encode()).decode(),
                "oidc_token": {"service_account_email": account.email, "audience": url},
            },
        )
        return Built(
            name=job.name,
            nodes=ScheduleNodes(account=account, invoker=invoker, job=job),
            native=job,
        )
