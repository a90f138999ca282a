"""`omnicloud preview`: run the real Pulumi program under Pulumi's mocks, offline, and record
every resource it registers (type, name, parent, resolved inputs).

No Pulumi CLI, plugin or credentials are involved: the mocks stand in for the engine, and a
per-cloud table (omnicloud/mockstate/) fills in what the cloud would compute (ARNs, URLs, ids).
"""

from __future__ import annotations

import contextlib
import copy
import gc
import importlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PROJECT = "omnicloud"  # a project directory without Pulumi.yaml previews as this project


@dataclass
class PreviewResource:
    urn: str
    type: str
    name: str
    parent: str | None
    props: dict[str, Any]
    custom: bool
    # Resource options that matter to reviewers of a plan (prod protection).
    protect: bool = False
    retain_on_delete: bool = False
    delete_before_replace: bool = False
    # What the mock cloud answered (inputs plus computed outputs) and the URNs the resource waits
    # for: for tests, not part of the printed plan.
    outputs: dict[str, Any] = field(default_factory=dict)
    dependencies: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"urn": self.urn, "type": self.type, "name": self.name, "parent": self.parent, "props": self.props,
                "options": {"protect": self.protect, "retain_on_delete": self.retain_on_delete,
                            "delete_before_replace": self.delete_before_replace}}


@dataclass
class PreviewResult:
    cloud: str
    stack: str
    resources: list[PreviewResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "cloud": self.cloud,
            "stack": self.stack,
            "resources": [r.as_json() for r in self.resources],
            "outputs": self.outputs,
            "warnings": self.warnings,
        }

    def of_type(self, type_: str) -> list[PreviewResource]:
        return [r for r in self.resources if r.type == type_]

    def children(self, urn: str) -> list[PreviewResource]:
        return [r for r in self.resources if r.parent == urn]

    def by_name(self, name: str, type_: str | None = None) -> PreviewResource:
        found = [r for r in self.resources if r.name == name and (type_ is None or r.type == type_)]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources named {name!r}" + (f" of type {type_}" if type_ else ""))
        return found[0]


def plain(value: Any) -> Any:
    """Inputs as JSON: archives and assets become descriptions, unknowns become null."""
    import pulumi

    if isinstance(value, dict):
        # Keys sorted: the engine hands inputs over in no fixed order, and plans are diffed in review.
        return {str(k): plain(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, pulumi.FileArchive):
        return {"archive": str(value.path)}
    if isinstance(value, pulumi.AssetArchive):
        return {"archive": sorted(value.assets)}
    if isinstance(value, (pulumi.FileAsset, pulumi.StringAsset)):
        return {"asset": getattr(value, "path", None) or "<inline>"}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def read_stack_config(project_dir: Path, stack: str, cloud: str | None = None) -> dict[str, Any]:
    """The `config:` block of Pulumi.<stack>.yaml (flat `ns:key` -> value).

    A missing stack file is an error naming the exact file to create and what to put in it
    (`omnicloud init` writes dev and prod stacks): preview shows what `pulumi up` on that stack
    would do, and `pulumi up` needs the file too.
    """
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        stacks = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))
        lines = ["config:", f"  omnicloud:cloud: {cloud or 'aws'}",
                 f"  omnicloud:environment: {'prod' if stack == 'prod' else 'dev'}"]
        if cloud == "gcp":
            lines.append("  gcp:project: <your-project-id>")
        listed = ", ".join(f"`{line}`" for line in lines[:-1]) + f" and `{lines[-1]}`"
        raise FileNotFoundError(
            f"{path}: no such stack file (stacks in {project_dir}: {', '.join(stacks) or 'none'}); create it"
            f" with the lines {listed} (or run `omnicloud init` in a new directory for a project with dev and"
            " prod stacks)")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ValueError(f"{where}: YAML syntax error: {getattr(exc, 'problem', exc)}") from None
    config = data.get("config") or {}
    if not isinstance(config, dict):
        raise ValueError(f"{path}: `config:` must be a mapping")
    return {str(k): v for k, v in config.items()}


def project_name(project_dir: Path) -> str:
    """The `name:` of the project's Pulumi.yaml: the namespace of its own config keys, secrets
    included (`pulumi config set --secret jwt-secret` writes `<project>:jwt-secret`)."""
    path = project_dir / "Pulumi.yaml"
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return DEFAULT_PROJECT
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name else DEFAULT_PROJECT


@contextlib.contextmanager
def plan_gc() -> Iterator[None]:
    """The cyclic GC policy for running a Pulumi program: objects that survive a collection are
    frozen, so no later collection scans them again, and are released at the end.

    A plan keeps every resource, Output and future alive until it ends, so the default policy
    rescans that ever-growing graph on each older-generation pass: about half of the plan time at
    1000 functions. Young collections still run and free short-lived cycles. Left alone when the
    process already froze objects of its own (unfreezing would release those too).
    """
    if gc.get_freeze_count() or not gc.isenabled():
        yield
        return

    def freeze_survivors(phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            gc.freeze()

    gc.callbacks.append(freeze_survivors)
    try:
        yield
    finally:
        gc.callbacks.remove(freeze_survivors)
        gc.unfreeze()


def run_preview(project_dir: Path, cloud: str, stack: str = "dev", app: str | None = None) -> PreviewResult:
    """Run the Pulumi program for `cloud` on `stack` under mocks and return what it registered."""
    with plan_gc():
        return _run_preview(project_dir, cloud, stack, app)


def _run_preview(project_dir: Path, cloud: str, stack: str, app: str | None) -> PreviewResult:
    import pulumi
    from pulumi.runtime import config as pulumi_config
    from pulumi.runtime import mocks, settings
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    from omnicloud.program import build_context, define, settings_from_config

    config = read_stack_config(project_dir, stack, cloud)
    config["omnicloud:cloud"] = cloud
    if app is not None:
        config["omnicloud:app"] = app
    project = project_name(project_dir)
    stack_settings = settings_from_config(config, f"Pulumi.{stack}.yaml")
    ctx, warnings = build_context(project_dir, stack_settings, stack, log_warnings=False,
                                  has_secret=lambda name: f"{project}:{name}" in config)

    state_module = importlib.import_module(f"omnicloud.mockstate.{cloud}")
    result = PreviewResult(cloud=cloud, stack=stack, warnings=[str(w) for w in warnings])

    # The mock monitor deserializes each registration's inputs once, for new_resource; the
    # recorder keeps them (per worker thread: registrations run on an executor) instead of
    # deserializing the request a second time.
    seen = threading.local()

    class Recorder(mocks.Mocks):
        def new_resource(self, args: mocks.MockResourceArgs):
            seen.inputs = args.inputs
            resource_id, outputs = state_module.state(args.typ, args.name, dict(args.inputs))
            seen.outputs = outputs
            return resource_id, outputs

        def call(self, args: mocks.MockCallArgs):
            return state_module.call(args.token, dict(args.args)), []

    class Monitor(mocks.MockMonitor):
        def RegisterResource(self, request):
            seen.inputs = seen.outputs = None
            response = super().RegisterResource(request)
            if request.type != "pulumi:pulumi:Stack":
                result.resources.append(PreviewResource(
                    urn=response.urn, type=request.type, name=request.name,
                    parent=request.parent or None, props=plain(seen.inputs or {}), custom=bool(request.custom),
                    protect=bool(request.protect), retain_on_delete=bool(request.retainOnDelete),
                    delete_before_replace=bool(request.deleteBeforeReplace),
                    outputs=plain(seen.outputs or {}), dependencies=tuple(sorted(request.dependencies)),
                ))
            return response

    settings.ROOT.set(None)
    pulumi_config.set_all_config({k: _config_value(v) for k, v in config.items()})
    mocks.set_mocks(Recorder(), project=project, stack=stack, preview=False,
                    monitor=Monitor(Recorder()))

    def program() -> None:
        pulumi.runtime.register_stack_transformation(_drop_version_aliases)
        define(ctx)

    _sync_await(run_pulumi_func(program))
    root = settings.get_root_resource()
    exports = getattr(root, "outputs", None) or {}
    if exports:
        result.outputs = plain(_sync_await(pulumi.Output.from_input(exports).future()))
    settings.ROOT.set(None)  # let the program's resource graph go; `result` holds plain copies
    # Registrations arrive from executor threads in whatever order they finish: sort by URN (type
    # path, then name) so the same program always prints the same plan, and plans diff cleanly.
    result.resources.sort(key=lambda r: r.urn)
    return result


def _drop_version_aliases(args):
    """Preview only: drop the aliases SDK classes add for their older API-version type tokens
    (azure-native adds 10-25 per resource). They only let the engine match state recorded under
    an old type, and a mock preview has no state; resolving each one into a URN is most of the
    preview's time on Azure. Aliases with anything besides a type (renames, reparenting) stay."""
    import pulumi

    aliases = args.opts.aliases
    if not aliases:
        return None
    kept = [a for a in aliases if not (isinstance(a, pulumi.Alias) and a.type_ is not ... and a.name is ...
                                        and a.parent is ... and a.stack is ... and a.project is ...)]
    if len(kept) == len(aliases):
        return None
    opts = copy.copy(args.opts)
    opts.aliases = kept or None
    return pulumi.ResourceTransformationResult(args.props, opts)


def _config_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"secure"}:
        return "[secret]"
    return json.dumps(value)


def render_tree(result: PreviewResult) -> str:
    """Human-readable tree: components with their children and key properties."""
    by_parent: dict[str | None, list[PreviewResource]] = {}
    urns = {r.urn for r in result.resources}
    for r in result.resources:
        parent = r.parent if r.parent in urns else None
        by_parent.setdefault(parent, []).append(r)
    lines = [f"{result.cloud} / {result.stack}: {len(result.resources)} resources"]

    def walk(parent: str | None, depth: int) -> None:
        for r in by_parent.get(parent, []):
            summary = _summary(r)
            lines.append(f"{'  ' * depth}{'+ ' if r.custom else '* '}{r.type}  {r.name}{summary}")
            walk(r.urn, depth + 1)

    walk(None, 1)
    for key, value in result.outputs.items():
        lines.append(f"  output {key}: {json.dumps(value)}")
    return "\n".join(lines)


_KEY_PROPS = ("runtime", "memorySize", "timeout", "billingMode", "visibilityTimeoutSeconds", "redrivePolicy",
              "maxDeliveryCount", "deadLetterPolicy", "filterPolicy", "filter", "scheduleExpression", "schedule",
              "role", "policy", "routeKey", "protocol", "lockDuration", "sqlFilter", "serviceUrl")


def _summary(r: PreviewResource) -> str:
    shown = {k: r.props[k] for k in _KEY_PROPS if k in r.props and r.props[k] not in (None, "", [], {})}
    if not shown:
        return ""
    text = ", ".join(f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in shown.items())
    return f"  ({text[:160]}{'...' if len(text) > 160 else ''})"
