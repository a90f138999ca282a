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
import inspect
import json
import logging
import os
import runpy
import sys
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


def program_path(project_dir: Path) -> Path:
    """The program `pulumi up` runs for the project: Pulumi.yaml's `main` (a file, or a directory
    holding __main__.py) or __main__.py in the project directory. A missing one is an error naming
    the file to create (`pulumi up` could not run either)."""
    main = None
    try:
        data = yaml.safe_load((project_dir / "Pulumi.yaml").read_text()) or {}
        main = data.get("main") if isinstance(data, dict) else None
    except (OSError, yaml.YAMLError):
        pass
    path = project_dir / main if isinstance(main, str) and main else project_dir
    if path.is_dir():
        path = path / "__main__.py"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no Pulumi program (pulumi up runs this file); create it with the two lines"
            " `from omnicloud.program import main` and `main()`")
    return path


class ProgramError(Exception):
    """The project's program stopped (a pulumi.RunError, as `pulumi up` would report it); one
    line per problem."""


def run_preview(project_dir: Path, cloud: str, stack: str = "dev", app: str | None = None) -> PreviewResult:
    """Run the project's own Pulumi program (`__main__.py`, exactly what `pulumi up` runs) for
    `cloud` on `stack` under mocks, and return what it registered."""
    with plan_gc():
        return _run_preview(project_dir, cloud, stack, app)


@contextlib.contextmanager
def _as_the_cli_runs_it(project_dir: Path) -> Iterator[None]:
    """The program runs from the project directory, which is on sys.path (as Pulumi's Python
    language host runs it), so a team's __main__.py can import its own modules."""
    cwd, path = os.getcwd(), list(sys.path)
    os.chdir(project_dir)
    sys.path.insert(0, str(project_dir))
    try:
        yield
    finally:
        os.chdir(cwd)
        sys.path[:] = path


def _run_preview(project_dir: Path, cloud: str, stack: str, app: str | None) -> PreviewResult:
    import pulumi
    from pulumi.runtime import config as pulumi_config
    from pulumi.runtime import mocks, settings
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    project_dir = project_dir.resolve()
    config = read_stack_config(project_dir, stack, cloud)
    config["omnicloud:cloud"] = cloud
    if app is not None:
        config["omnicloud:app"] = app
    project = project_name(project_dir)
    program = program_path(project_dir)

    state_module = importlib.import_module(f"omnicloud.mockstate.{cloud}")
    result = PreviewResult(cloud=cloud, stack=stack)
    engine = _Engine(state_module)

    # The mock monitor deserializes each registration's inputs once, for new_resource; the
    # recorder keeps them (per worker thread: registrations run on an executor) instead of
    # deserializing the request a second time.
    seen = threading.local()

    class Recorder(mocks.Mocks):
        def new_resource(self, args: mocks.MockResourceArgs):
            seen.inputs, seen.options = engine.transform(args, seen.request, seen.urn)
            resource_id, outputs = engine.state(args.typ, args.name, seen.inputs)
            seen.outputs = outputs
            return resource_id, outputs

        def call(self, args: mocks.MockCallArgs):
            return state_module.call(args.token, dict(args.args)), []

        def register_transform(self, transform) -> None:
            engine.stack_transforms.append(transform)

    class Monitor(mocks.MockMonitor):
        def RegisterResource(self, request):
            seen.inputs = seen.outputs = seen.options = None
            seen.request = request
            seen.urn = self.make_urn(request.parent, request.type, request.name)
            response = super().RegisterResource(request)
            if request.type != "pulumi:pulumi:Stack":
                options = seen.options or {}
                result.resources.append(PreviewResource(
                    urn=response.urn, type=request.type, name=request.name,
                    parent=request.parent or None, props=plain(seen.inputs or {}), custom=bool(request.custom),
                    protect=options.get("protect", bool(request.protect)),
                    retain_on_delete=options.get("retain_on_delete", bool(request.retainOnDelete)),
                    delete_before_replace=options.get("delete_before_replace", bool(request.deleteBeforeReplace)),
                    outputs=plain(seen.outputs or {}), dependencies=tuple(sorted(request.dependencies)),
                ))
            return response

    # What the program logs (its warnings: app.yaml's, the stack's, a team's own) is kept, as the
    # Pulumi CLI shows it.
    logger = logging.getLogger(f"omnicloud.preview.{id(result)}")
    logger.propagate = False
    logger.setLevel(logging.WARNING)
    handler = _Collect(result.warnings)
    logger.addHandler(handler)

    settings.ROOT.set(None)
    pulumi_config.set_all_config({k: _config_value(v) for k, v in config.items()})
    mocks.set_mocks(Recorder(), project=project, stack=stack, preview=False, logger=logger,
                    monitor=Monitor(Recorder()))

    def run() -> None:
        pulumi.runtime.register_stack_transformation(_drop_version_aliases)
        runpy.run_path(str(program), run_name="__main__")

    try:
        with _as_the_cli_runs_it(project_dir):
            _sync_await(run_pulumi_func(run))
    except pulumi.RunError as exc:
        raise ProgramError(str(exc)) from None
    finally:
        logger.removeHandler(handler)
    root = settings.get_root_resource()
    exports = getattr(root, "outputs", None) or {}
    if exports:
        result.outputs = plain(_sync_await(pulumi.Output.from_input(exports).future()))
    settings.ROOT.set(None)  # let the program's resource graph go; `result` holds plain copies
    # Registrations arrive from executor threads in whatever order they finish: sort by URN (type
    # path, then name) so the same program always prints the same plan, and plans diff cleanly.
    result.resources.sort(key=lambda r: r.urn)
    return result


class _Collect(logging.Handler):
    def __init__(self, into: list[str]):
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record.getMessage())


class _Engine:
    """What the Pulumi engine does that Pulumi's mocks do not: run the transforms registered
    through callbacks (a resource's own `transforms` option, then each ancestor's, then the
    stack's `register_resource_transform` ones, in that order, as the engine's
    ResourceMonitor.RegisterResource does), and answer for the cloud (omnicloud/mockstate, and
    each kind's own mock state)."""

    def __init__(self, state_module: Any):
        self.state_module = state_module
        self.stack_transforms: list[Any] = []
        self.own: dict[str, list[Any]] = {}
        self.parent: dict[str, str] = {}
        self.kind_states = _kind_mock_states(state_module.__name__.rsplit(".", 1)[-1])

    def state(self, type_: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        for state in self.kind_states:
            answer = state(type_, name, inputs)
            if answer is not None:
                return answer
        return self.state_module.state(type_, name, inputs)

    def transform(self, args: Any, request: Any, urn: str) -> tuple[dict[str, Any], dict[str, bool] | None]:
        own = list(args.transforms)
        self.own[urn] = own
        self.parent[urn] = request.parent
        chain = list(own)
        current = request.parent
        while current:
            chain += self.own.get(current, [])
            current = self.parent.get(current, "")
        chain += self.stack_transforms
        props = dict(args.inputs)
        if not chain:
            return props, None
        import pulumi
        from pulumi.runtime.sync_await import _sync_await

        opts = pulumi.ResourceOptions(
            protect=bool(request.protect), retain_on_delete=bool(request.retainOnDelete),
            delete_before_replace=bool(request.deleteBeforeReplace),
            ignore_changes=list(request.ignoreChanges) or None)
        for transform in chain:
            answer = transform(pulumi.ResourceTransformArgs(custom=bool(request.custom), type_=request.type,
                                                            name=request.name, props=props, opts=opts))
            if inspect.isawaitable(answer):
                answer = _sync_await(answer)
            if answer is None:
                continue
            props = _sync_await(pulumi.Output.from_input(answer.props).future()) or {}
            opts = answer.opts if answer.opts is not None else opts
        options = {"protect": bool(opts.protect), "retain_on_delete": bool(opts.retain_on_delete),
                   "delete_before_replace": bool(opts.delete_before_replace)}
        return dict(props), options


def _kind_mock_states(cloud: str) -> list[Any]:
    """The mock state functions installed packages' kinds bring for `cloud` (omnicloud.registry.Kind.mock_state)."""
    from omnicloud.registry import registry

    return [kind.mock_state[cloud] for kind in registry().kinds.values() if cloud in kind.mock_state]


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
    """Human-readable tree: components with their children, the properties a reviewer checks,
    the protection a resource gets, and its tags (Google Cloud: labels) on a line of their own."""
    by_parent: dict[str | None, list[PreviewResource]] = {}
    urns = {r.urn for r in result.resources}
    for r in result.resources:
        parent = r.parent if r.parent in urns else None
        by_parent.setdefault(parent, []).append(r)
    lines = [f"{result.cloud} / {result.stack}: {len(result.resources)} resources"]

    def walk(parent: str | None, depth: int) -> None:
        for r in by_parent.get(parent, []):
            indent = "  " * depth
            lines.append(f"{indent}{'+ ' if r.custom else '* '}{r.type}  {r.name}{_options(r)}{_summary(r)}")
            tags = _tags(r)
            if tags:
                lines.append(f"{indent}    {tags}")
            walk(r.urn, depth + 1)

    walk(None, 1)
    for key, value in result.outputs.items():
        lines.append(f"  output {key}: {json.dumps(value)}")
    return "\n".join(lines)


# Properties (at any depth: the last part of their path) a reviewer of a plan checks: sizes, time
# limits, concurrency, retries and dead letters, filters, schedules, grants, routes, TTLs.
_KEY_PROPS = ("runtime", "memorySize", "availableMemory", "instanceMemoryMb", "timeout", "timeoutSeconds",
              "reservedConcurrentExecutions", "provisionedConcurrentExecutions", "minInstanceCount",
              "maxInstanceCount", "maximumInstanceCount", "billingMode", "visibilityTimeoutSeconds",
              "messageRetentionSeconds", "defaultMessageTimeToLive", "messageRetentionDuration", "redrivePolicy",
              "maxDeliveryCount", "deadLetterPolicy", "filterPolicy", "filter", "scheduleExpression", "schedule",
              "role", "policy", "routeKey", "protocol", "lockDuration", "sqlFilter", "serviceUrl")
_TAG_PROPS = ("tags", "labels")


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, value) for every key of nested mappings, the mapping itself included."""
    if isinstance(value, dict):
        for key, inner in value.items():
            here = f"{path}.{key}" if path else str(key)
            yield here, inner
            yield from _leaves(inner, here)


def _summary(r: PreviewResource) -> str:
    shown = [(path, value) for path, value in _leaves({k: v for k, v in r.props.items() if k not in _TAG_PROPS})
             if path.rsplit(".", 1)[-1] in _KEY_PROPS and value not in (None, "", [], {})]
    if not shown:
        return ""
    text = ", ".join(f"{k}={_shown(v)}" for k, v in shown)
    return f"  ({text[:200]}{'...' if len(text) > 200 else ''})"


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():  # the wire's numbers are floats
        return str(int(value))
    return json.dumps(value)


def _options(r: PreviewResource) -> str:
    flags = [name for name, on in (("protect", r.protect), ("retain", r.retain_on_delete)) if on]
    return f"  [{', '.join(flags)}]" if flags else ""


def _tags(r: PreviewResource) -> str:
    for key in _TAG_PROPS:
        tags = r.props.get(key)
        if isinstance(tags, dict) and tags:
            return f"{key}: " + ", ".join(f"{k}={v}" for k, v in sorted(tags.items()))
    return ""
