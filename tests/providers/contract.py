"""The provider contract: one suite, run against every cloud (fsspec-style mixins).

Each cloud's test module defines a fixture class with the hooks below and runs
``class TestAwsContract(ProviderContract, AwsHooks): pass``. The hooks read the cloud's
resources out of a preview; the assertions here are the same on every cloud.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from omnicloud.preview import PreviewResult, run_preview

ROOT = Path(__file__).resolve().parents[2]
COMPONENT_KINDS = ("App", "Function", "Queue", "Topic", "Table", "Secret", "Schedule", "HttpApi")


@functools.cache
def preview(cloud: str, stack: str = "dev", project: str = str(ROOT), app: str | None = None) -> PreviewResult:
    """One offline preview per (cloud, stack, app), shared by the tests that read it."""
    return run_preview(Path(project), cloud, stack, app=app)


@dataclass(frozen=True)
class Grant:
    """One permission the preview gives a function: who, which actions, on what."""

    function: str  # logical function name
    actions: tuple[str, ...]  # cloud action names or role ids
    resource: str  # the exact resource the grant is scoped to (ARN, resource id, ...)


class CloudHooks:
    """What each cloud's test module implements."""

    cloud = ""

    def grants(self, result: PreviewResult) -> list[Grant]:
        """Every data-plane grant the preview gives a function."""
        raise NotImplementedError

    def resource_ref(self, result: PreviewResult, kind: str, logical: str) -> str:
        """How `grants` names the resource of component `kind`/`logical` (ARN, id, ...)."""
        raise NotImplementedError

    def max_deliveries(self, result: PreviewResult, queue: str) -> int:
        """Deliveries before a message of `queue` is dead-lettered, as configured natively."""
        raise NotImplementedError

    def subscriber_deliveries(self, result: PreviewResult, function: str) -> int:
        """Deliveries before topic subscriber `function`'s subscription dead-letters a message."""
        raise NotImplementedError

    def stateful_resources(self, result: PreviewResult) -> list:
        """The data-holding resources (tables, queues, topics, secrets) that prod must protect."""
        raise NotImplementedError


class ProviderContract(CloudHooks):
    def test_every_component_has_one_type_token(self):
        result = preview(self.cloud)
        kinds = {r.type.split(":")[-1] for r in result.resources if r.type.startswith("omnicloud:index:")}
        assert kinds == set(COMPONENT_KINDS)

    def test_cloud_resources_hang_below_components(self):
        result = preview(self.cloud)
        components = {r.urn for r in result.resources if r.type.startswith("omnicloud:index:")}
        orphans = [r.name for r in result.resources if r.custom and r.parent not in components]
        assert orphans == []

    def test_data_components_have_native_children(self):
        result = preview(self.cloud)
        for r in result.resources:
            if r.type.startswith("omnicloud:index:") and r.type.split(":")[-1] in ("Queue", "Topic", "Table", "Secret", "Function", "HttpApi"):
                assert [c for c in result.children(r.urn) if c.custom], f"{r.type} {r.name} built nothing"

    def test_stack_exports_neutral_outputs(self):
        result = preview(self.cloud)
        assert result.outputs["cloud"] == self.cloud
        assert str(result.outputs["url"]).startswith("https://")
        assert set(result.outputs["functions"]) == {"api", "worker", "notifier", "sweeper"}

    def test_queue_dead_letters_after_max_retries(self):
        result = preview(self.cloud)
        from spec.capabilities import deliveries

        assert self.max_deliveries(result, "task-queue") == deliveries(self.cloud, 3)

    def test_topic_subscriber_keeps_the_default_retries_unless_it_sets_max_retries(self):
        from spec.capabilities import deliveries

        # The sample app's notifier sets none: 3 retries, as before max_retries existed (Pub/Sub: 5
        # deliveries, its minimum). Each cloud's own tests pin a subscriber that sets it.
        assert self.subscriber_deliveries(preview(self.cloud), "notifier") == deliveries(self.cloud, 3)

    def test_grants_cover_exactly_the_links(self):
        from spec import load_app

        result = preview(self.cloud)
        app = load_app(ROOT / "app.yaml")
        granted = self.grants(result)
        for fname, fn in app.functions.items():
            mine = {g.resource for g in granted if g.function == fname}
            wanted = {self.resource_ref(result, app.kind_of(t), t) for t in fn.links}
            assert wanted <= mine, f"{fname} lacks grants on {wanted - mine}"
            others = {self.resource_ref(result, app.kind_of(t), t) for t in app.resource_groups()["table"]} | {
                self.resource_ref(result, kind, t)
                for kind in ("queue", "topic", "secret") for t in app.resource_groups()[kind]}
            extra = (mine & others) - wanted
            assert not extra, f"{fname} is granted resources it is not linked to: {extra}"

    def test_no_wildcard_grants(self):
        for stack in ("dev", "prod"):
            for grant in self.grants(preview(self.cloud, stack)):
                assert "*" not in grant.resource, grant
                assert not any(a == "*" or a.endswith(":*") for a in grant.actions), grant

    def test_prod_protects_and_retains_state_dev_does_not(self):
        prod = self.stateful_resources(preview(self.cloud, "prod"))
        dev = self.stateful_resources(preview(self.cloud, "dev"))
        assert prod and all(r.protect and r.retain_on_delete for r in prod), [r.name for r in prod if not r.protect]
        assert dev and not any(r.protect or r.retain_on_delete for r in dev)
