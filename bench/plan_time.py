"""Plan time: `omnicloud preview` on generated apps of 10, 100 and 1000 functions per cloud.

Each measurement runs in a fresh process. Figures: seconds and peak RSS of the preview, the
growth exponent over sizes, and the ratio to the floor. The floor is a hand-written Pulumi program
(`HAND_WRITTEN` below): the same cloud resources (types, names, inputs) that our preview registered,
each through the SDK class a team would call by hand (pulumi_aws, pulumi_azure_native,
pulumi_gcp), with its inputs written out, and nothing else: no spec, no components, no providers.
Where our program takes an input from a resource it depends on (an ARN, an id, an email), the floor
takes it from that resource's Output too; inputs that embed one (a policy document) are written out.
It runs as its project's `__main__.py` under the same harness as ours (`omnicloud preview`'s
mocks, GC policy and recording) and registers exactly our inputs, so the ratio is what omnicloud's
own code costs.

Target (issue 14): ours <= 1.2x the hand-written program, and linear growth to 1,000 functions.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, emit, growth_exponent, log  # noqa: E402
from bench.genapp import generate  # noqa: E402

FLOOR_TARGET = 1.2

# The floor project's program: every resource through its SDK class, inputs written out (in
# resources.json beside it, so a thousand functions do not make a 14,000-call source file), and an
# input that our program took from another resource's output (an ARN, an id, an email) taken from
# that resource's Output, as a hand-written program does: {"$ref": [index, output, value]}.
HAND_WRITTEN = '''"""A hand-written Pulumi program: the resources of the generated app, each through its SDK class."""

import importlib
import json
import re
from pathlib import Path

import pulumi

created = []


def restore(value):
    """Archives, assets and other resources' outputs, which JSON cannot hold, back into Pulumi objects."""
    if isinstance(value, dict):
        if set(value) == {"archive"} and isinstance(value["archive"], str):
            return pulumi.FileArchive(value["archive"])
        if set(value) == {"asset"} and isinstance(value["asset"], str):
            return pulumi.FileAsset(value["asset"])
        if set(value) == {"$ref"}:
            index, output, literal = value["$ref"]
            return getattr(created[index], re.sub(r"(?<!^)(?=[A-Z])", "_", output).lower(), literal)
        return {k: restore(v) for k, v in value.items()}
    if isinstance(value, list):
        return [restore(v) for v in value]
    return value


for module, cls, name, kwargs in json.loads(Path(__file__).with_name("resources.json").read_text()):
    created.append(getattr(importlib.import_module(module), cls)(name, **restore(kwargs)))
'''


def _preview(project: Path, cloud: str, repeats: int) -> dict:
    """The preview of `project` as `omnicloud preview` runs it: the median of `repeats` runs after a first
    one in this process (which imports the SDK and, for ours, fills the artifact cache, as a second
    `pulumi preview` would)."""
    from omnicloud.preview import run_preview

    result = run_preview(project, cloud, "dev")
    runs = []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        result = run_preview(project, cloud, "dev")
        runs.append((time.perf_counter() - start, time.process_time() - cpu))
    seconds, cpu = sorted(runs)[len(runs) // 2]
    return {"seconds": seconds, "cpu_seconds": cpu, "runs": repeats, "result": result}


def _repeats(functions: int) -> int:
    """Runs per measurement: three up to 100 functions (the machine is noisy), one above (minutes each)."""
    return 3 if functions <= 100 else 1


def _measure_ours(project: Path, cloud: str, dump: Path | None, repeats: int) -> dict:
    run = _preview(project, cloud, repeats)
    result = run.pop("result")
    if dump:
        custom = [{"urn": r.urn, "type": r.type, "name": r.name, "props": r.props, "outputs": r.outputs,
                   "dependencies": list(r.dependencies)} for r in result.resources if r.custom]
        dump.write_text(json.dumps(custom))
    return {**run, "resources": len(result.resources), "custom": sum(1 for r in result.resources if r.custom)}


def _measure_floor(project: Path, cloud: str, repeats: int) -> dict:
    run = _preview(project, cloud, repeats)
    result = run.pop("result")
    return {**run, "resources": len(result.resources)}


# A dynamic resource has no SDK module: a hand-written program declares it through the same class.
DYNAMIC = {"pulumi-python:dynamic/omnicloud-azure:TriggerSync": ("providers.azure.sync", "TriggerSync")}


def _sdk_class(typ: str) -> tuple[str, str]:
    """(module, class name) of the SDK class registered for a resource type token (e.g. azure-native:web:WebApp)."""
    from pulumi.runtime import rpc

    if typ in DYNAMIC:
        return DYNAMIC[typ]

    pkg, mod, _ = typ.split(":")
    module = rpc.get_resource_module(pkg, mod, "")
    if module is None:
        raise SystemExit(f"plan time floor: no SDK module registered for {typ}")
    return module.mod_info["fqn"], module.mod_info["classes"][typ]


def _sdk_kwargs(cls, typ: str, props: dict) -> dict:
    """camelCase wire inputs -> the class's snake_case keyword arguments (nested values as plain dicts)."""
    import inspect

    init = cls.__init__ if typ in DYNAMIC else cls._internal_init
    skip = ("self", "name", "opts") if typ in DYNAMIC else ("self", "resource_name", "opts")
    params = [p for p in inspect.signature(init).parameters if p not in skip]
    by_key = {p.replace("_", "").lower(): p for p in params}
    kwargs = {}
    for key, value in props.items():
        if typ in DYNAMIC and key == "__provider":  # the class passes its provider itself
            continue
        param = by_key.get(key.replace("_", "").lower())
        if param is None:
            raise SystemExit(f"plan time floor: {typ} takes no argument for input {key!r}")
        kwargs[param] = value
    return kwargs


def _wired(resources: list[dict]) -> tuple[list[int], list[dict]]:
    """The creation order (a resource after those it takes outputs from) and each resource's inputs
    with every value it took from a dependency's output replaced by a reference to that output."""
    at = {r["urn"]: i for i, r in enumerate(resources)}

    def wire(value, sources: list[int]):
        if isinstance(value, dict):
            return {k: wire(v, sources) for k, v in value.items()}
        if isinstance(value, list):
            return [wire(v, sources) for v in value]
        if isinstance(value, str) and len(value) >= 8:
            for j in sources:
                for key, produced in resources[j]["outputs"].items():
                    if produced == value and key not in resources[j]["props"]:
                        return {"$ref": [j, key, value]}
        return value

    props, needs = [], []
    for r in resources:
        sources = [at[u] for u in r["dependencies"] if u in at]
        wired = {k: wire(v, sources) for k, v in r["props"].items()}
        props.append(wired)
        needs.append({ref[0] for ref in _refs(wired)})
    order: list[int] = []
    placed: set[int] = set()

    def place(i: int) -> None:
        if i in placed:
            return
        placed.add(i)
        for j in sorted(needs[i]):
            place(j)
        order.append(i)

    for i in range(len(resources)):
        place(i)
    return order, props


def _refs(value) -> list[list]:
    if isinstance(value, dict):
        if set(value) == {"$ref"}:
            return [value["$ref"]]
        return [ref for v in value.values() for ref in _refs(v)]
    if isinstance(value, list):
        return [ref for v in value for ref in _refs(v)]
    return []


def write_floor(dump: Path, project: Path, generated: Path) -> tuple[Path, int]:
    """The hand-written program's project for the resources in `dump` (our preview's custom resources),
    and how many inputs it takes from another resource's Output."""
    import importlib

    resources = json.loads(dump.read_text())
    for package in {r["type"].split(":")[0] for r in resources} - {"pulumi-python"}:  # each SDK registers its classes when imported
        importlib.import_module("pulumi_" + package.replace("-", "_"))
    classes = {typ: _sdk_class(typ) for typ in {r["type"] for r in resources}}
    order, props = _wired(resources)
    position = {i: n for n, i in enumerate(order)}
    # Ours nests resources under components; registered flat, a name must be unique per type (it is,
    # in the generated apps: then the floor's auto-named resources get the same physical names as ours).
    taken = Counter((r["type"], r["name"]) for r in resources)
    calls, references = [], 0
    for i in order:
        r = resources[i]
        module, name = classes[r["type"]]
        kwargs = _sdk_kwargs(getattr(importlib.import_module(module), name), r["type"], props[i])
        for ref in _refs(kwargs):
            ref[0] = position[ref[0]]  # `created` is in creation order
            references += 1
        unique = r["name"] if taken[r["type"], r["name"]] == 1 else f"{r['name']}-{i}"
        calls.append([module, name, unique, kwargs])
    project.mkdir(parents=True, exist_ok=True)
    (project / "Pulumi.yaml").write_text("name: floor\nruntime: python\n")
    (project / "Pulumi.dev.yaml").write_text((generated / "Pulumi.dev.yaml").read_text())
    (project / "resources.json").write_text(json.dumps(calls))
    (project / "__main__.py").write_text(HAND_WRITTEN)
    return project, references


# Functions whose cumulative time (main thread, where the program and Pulumi's registration run) the
# profile reports, for ours and for the floor.
PROFILED = {
    "stack capture": ("pulumi/runtime/resource.py", "_get_stack_trace"),
    "app.yaml and spec": ("spec/loader.py", "load_app_with_warnings"),
    "artifacts (warm cache)": ("omnicloud/bundle/__init__.py", "build_artifacts"),
}


def _profile(project: Path, cloud: str) -> dict:
    """One more preview of `project` under cProfile: where the main thread's time goes; and the CPU time
    the mock monitor's threads spend in the preview's engine (transforms, mock state)."""
    import cProfile
    import pstats
    import threading

    from omnicloud import preview

    preview.run_preview(project, cloud, "dev")  # imports and caches, as for the timed runs
    engine_cpu = {"transform": 0.0, "state": 0.0}
    lock = threading.Lock()

    def timed(name: str, method):
        def run(*args, **kwargs):
            start = time.thread_time()
            try:
                return method(*args, **kwargs)
            finally:
                with lock:
                    engine_cpu[name] += time.thread_time() - start
        return run

    for name in engine_cpu:
        setattr(preview._Engine, name, timed(name, getattr(preview._Engine, name)))
    profiler = cProfile.Profile()
    profiler.enable()
    preview.run_preview(project, cloud, "dev")
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = sum(own for _, _, own, _, _ in stats.values())
    out = {"profiled_seconds": round(total, 3)}
    for label, (path, name) in PROFILED.items():
        out[label] = round(sum(cum for (f, _, n), (_, _, _, cum, _) in stats.items() if n == name and f.endswith(path)), 3)
    frames = sum(calls for (f, _, n), (_, calls, _, _, _) in stats.items() if n == "rpc_frame")
    captures = sum(calls for (f, _, n), (_, calls, _, _, _) in stats.items() if n == "_get_stack_trace")
    out["frames per registration"] = round(frames / captures, 1) if captures else None
    out["engine: transforms (monitor threads, CPU s)"] = round(engine_cpu["transform"], 3)
    out["engine: mock state (monitor threads, CPU s)"] = round(engine_cpu["state"], 3)
    return out


def _child(args) -> int:
    if args.profile:
        print(json.dumps(_profile(Path(args.floor or args.project), args.cloud)))
        return 0
    if args.floor:
        out = _measure_floor(Path(args.floor), args.cloud, args.repeats)
    else:
        out = _measure_ours(Path(args.project), args.cloud, Path(args.dump) if args.dump else None, args.repeats)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))
    return 0


def _run_child(*extra: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", *extra], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"plan-time child failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--cloud", default="aws")
    parser.add_argument("--project")
    parser.add_argument("--dump")
    parser.add_argument("--floor")
    parser.add_argument("--profile", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--profile-size", type=int, default=100,
                        help="size at which ours and the floor are also profiled (0: none)")
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--clouds", default="aws,azure,gcp")
    args = parser.parse_args(argv)
    if args.child:
        return _child(args)
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="omnicloud-plan-") as tmp:
        for cloud in args.clouds.split(","):
            seconds, floors = [], []
            for n in sizes:
                project = Path(tmp) / f"app{n}"
                if not (project / "app.yaml").exists():
                    generate(project, n)
                dump = Path(tmp) / f"{cloud}-{n}.json"
                log(f"plan time: {cloud}, {n} functions")
                repeats = str(_repeats(n))
                ours = _run_child("--cloud", cloud, "--project", str(project), "--dump", str(dump), "--repeats", repeats)
                floor_project, references = write_floor(dump, Path(tmp) / f"floor-{cloud}-{n}", project)
                floor = _run_child("--cloud", cloud, "--floor", str(floor_project), "--repeats", repeats)
                seconds.append(ours["seconds"])
                floors.append(floor["seconds"])
                ratio = ours["seconds"] / floor["seconds"]
                emit("plan_time", f"{cloud}.{n}.seconds", ours["seconds"], "s", resources=ours["resources"],
                     custom_resources=ours["custom"], cpu_seconds=round(ours["cpu_seconds"], 4), runs=ours["runs"])
                emit("plan_time", f"{cloud}.{n}.peak_rss", ours["peak_rss_mb"], "MB")
                emit("plan_time", f"{cloud}.{n}.floor_seconds", floor["seconds"], "s", resources=floor["resources"],
                     cpu_seconds=round(floor["cpu_seconds"], 4), peak_rss_mb=round(floor["peak_rss_mb"], 1),
                     references=references,
                     what="a hand-written program: the same resources through the same SDK classes, inputs "
                          "taken from other resources' Outputs where ours takes them")
                emit("plan_time", f"{cloud}.{n}.ratio_to_floor", ratio, "x", target=f"<= {FLOOR_TARGET:g}",
                     met=ratio <= FLOOR_TARGET)
                if n == args.profile_size:
                    mine = _run_child("--profile", "--cloud", cloud, "--project", str(project))
                    theirs = _run_child("--profile", "--cloud", cloud, "--floor", str(floor_project))
                    emit("plan_time", f"{cloud}.{n}.profile", mine["profiled_seconds"] / theirs["profiled_seconds"],
                         "x", ours=mine, floor=theirs, registrations=ours["resources"],
                         floor_registrations=floor["resources"],
                         note="one more preview of each under cProfile (main thread): seconds inside each part")
            if len(sizes) > 1:
                emit("plan_time", f"{cloud}.growth_exponent", growth_exponent(sizes, seconds), "", target="~1.0 (linear)")
                emit("plan_time", f"{cloud}.floor_growth_exponent", growth_exponent(sizes, floors), "",
                     what="the floor's own growth: what Pulumi's runtime does with more resources")
    return 0


if __name__ == "__main__":
    sys.exit(main())
