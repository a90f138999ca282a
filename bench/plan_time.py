"""Plan time: `omnicloud preview` on generated apps of 10, 100 and 1000 functions per cloud.

Each measurement runs in a fresh process. Figures: seconds and peak RSS of the preview, the
growth exponent over sizes, and the ratio to the floor: the same cloud resources (types, names,
resolved inputs) registered directly, with no components, providers or spec, under the same mocks.
A second floor (`sdk_floor`) registers the same resources through the cloud SDK's own resource
classes (pulumi_aws / pulumi_azure_native / pulumi_gcp), as they come, to show what those classes
cost by themselves; the target stays the ratio to the first floor. Both floors run under the
preview's GC policy (omnicloud.preview.plan_gc), so the ratios compare like with like.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, emit, growth_exponent, log  # noqa: E402
from bench.genapp import generate  # noqa: E402


def _measure_ours(project: Path, cloud: str, dump: Path | None) -> dict:
    from omnicloud.preview import run_preview

    run_preview(project, cloud, "dev")  # warm the artifact cache, as a second `pulumi preview` would be
    start, cpu = time.perf_counter(), time.process_time()
    result = run_preview(project, cloud, "dev")
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    if dump:
        custom = [{"type": r.type, "name": r.name, "props": r.props} for r in result.resources if r.custom]
        dump.write_text(json.dumps(custom))
    return {"seconds": seconds, "cpu_seconds": cpu, "resources": len(result.resources),
            "custom": sum(1 for r in result.resources if r.custom)}


def _floor_mocks(state):
    """Mocks answering from the cloud's mock state, as the preview's do (shared by both floors)."""
    from pulumi.runtime import mocks

    class Floor(mocks.Mocks):
        def new_resource(self, args):
            return state.state(args.typ, args.name, dict(args.inputs))

        def call(self, args):
            return state.call(args.token, dict(args.args)), []

    return Floor


def _measure_floor(dump: Path, cloud: str) -> dict:
    import importlib

    import pulumi
    from pulumi.runtime import mocks, settings
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    from omnicloud.preview import plan_gc

    importlib.import_module({"aws": "pulumi_aws", "azure": "pulumi_azure_native", "gcp": "pulumi_gcp"}[cloud])
    state = importlib.import_module(f"omnicloud.mockstate.{cloud}")
    resources = json.loads(dump.read_text())

    Floor = _floor_mocks(state)

    def program():
        for i, r in enumerate(resources):
            pulumi.CustomResource(r["type"], f"{r['name']}-{i}", r["props"])

    start, cpu = time.perf_counter(), time.process_time()
    with plan_gc():  # the preview's GC policy, so the ratio compares like with like
        settings.ROOT.set(None)
        mocks.set_mocks(Floor(), project="floor", stack="dev", preview=False)
        _sync_await(run_pulumi_func(program))
        settings.ROOT.set(None)
    return {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
            "resources": len(resources)}


def _sdk_class(typ: str):
    """The SDK class registered for a resource type token (e.g. azure-native:web:WebApp)."""
    import importlib

    from pulumi.runtime import rpc

    pkg, mod, _ = typ.split(":")
    module = rpc.get_resource_module(pkg, mod, "")
    if module is None:
        raise SystemExit(f"sdk floor: no SDK module registered for {typ}")
    info = module.mod_info
    return getattr(importlib.import_module(info["fqn"]), info["classes"][typ])


def _sdk_kwargs(cls, typ: str, props: dict) -> dict:
    """camelCase wire inputs -> the class's snake_case keyword arguments (nested values as plain dicts)."""
    import inspect

    params = [p for p in inspect.signature(cls._internal_init).parameters if p not in ("self", "resource_name", "opts")]
    by_key = {p.replace("_", "").lower(): p for p in params}
    kwargs = {}
    for key, value in props.items():
        param = by_key.get(key.replace("_", "").lower())
        if param is None:
            raise SystemExit(f"sdk floor: {typ} takes no argument for input {key!r}")
        kwargs[param] = _restore_assets(value)
    return kwargs


def _restore_assets(value):
    """The dump's descriptions of archives and assets (see omnicloud.preview.plain) back into objects:
    SDK classes check that an archive-typed output comes back as one."""
    import pulumi

    if isinstance(value, dict):
        if set(value) == {"archive"} and isinstance(value["archive"], str):
            return pulumi.FileArchive(value["archive"])
        if set(value) == {"asset"} and isinstance(value["asset"], str):
            return pulumi.FileAsset(value["asset"])
        return {k: _restore_assets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore_assets(v) for v in value]
    return value


def _measure_sdk_floor(dump: Path, cloud: str) -> dict:
    import importlib

    from pulumi.runtime import mocks, settings
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    from omnicloud.preview import plan_gc

    importlib.import_module({"aws": "pulumi_aws", "azure": "pulumi_azure_native", "gcp": "pulumi_gcp"}[cloud])
    state = importlib.import_module(f"omnicloud.mockstate.{cloud}")
    resources = json.loads(dump.read_text())
    classes = {typ: _sdk_class(typ) for typ in {r["type"] for r in resources}}
    # Class lookup and argument mapping are the benchmark's own work, not the SDK's: done before the clock.
    calls = [(classes[r["type"]], f"{r['name']}-{i}", _sdk_kwargs(classes[r["type"]], r["type"], r["props"]))
             for i, r in enumerate(resources)]

    Floor = _floor_mocks(state)

    def program():
        for cls, name, kwargs in calls:
            cls(name, **kwargs)

    start, cpu = time.perf_counter(), time.process_time()
    with plan_gc():  # the preview's GC policy, so the ratio compares like with like
        settings.ROOT.set(None)
        mocks.set_mocks(Floor(), project="floor", stack="dev", preview=False)
        _sync_await(run_pulumi_func(program))
        settings.ROOT.set(None)
    return {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
            "resources": len(resources)}


def _child(args) -> int:
    if args.sdk_floor:
        out = _measure_sdk_floor(Path(args.sdk_floor), args.cloud)
    elif args.floor:
        out = _measure_floor(Path(args.floor), args.cloud)
    else:
        out = _measure_ours(Path(args.project), args.cloud, Path(args.dump) if args.dump else None)
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
    parser.add_argument("--sdk-floor")
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
                ours = _run_child("--cloud", cloud, "--project", str(project), "--dump", str(dump))
                floor = _run_child("--cloud", cloud, "--floor", str(dump))
                sdk = _run_child("--cloud", cloud, "--sdk-floor", str(dump))
                seconds.append(ours["seconds"])
                floors.append(floor["seconds"])
                emit("plan_time", f"{cloud}.{n}.seconds", ours["seconds"], "s", resources=ours["resources"],
                     cpu_seconds=round(ours["cpu_seconds"], 4))
                emit("plan_time", f"{cloud}.{n}.peak_rss", ours["peak_rss_mb"], "MB")
                emit("plan_time", f"{cloud}.{n}.floor_seconds", floor["seconds"], "s", resources=floor["resources"],
                     cpu_seconds=round(floor["cpu_seconds"], 4), peak_rss_mb=round(floor["peak_rss_mb"], 1))
                emit("plan_time", f"{cloud}.{n}.ratio_to_floor", ours["seconds"] / floor["seconds"], "x",
                     target="<= 1.3")
                emit("plan_time", f"{cloud}.{n}.sdk_floor_seconds", sdk["seconds"], "s", resources=sdk["resources"],
                     cpu_seconds=round(sdk["cpu_seconds"], 4), peak_rss_mb=round(sdk["peak_rss_mb"], 1),
                     what="the same resources through the SDK's own classes, as they come (type aliases and all)")
                emit("plan_time", f"{cloud}.{n}.sdk_floor_ratio", sdk["seconds"] / floor["seconds"], "x",
                     what="what the SDK's resource classes cost by themselves, relative to the floor")
                emit("plan_time", f"{cloud}.{n}.ratio_to_sdk_floor", ours["seconds"] / sdk["seconds"], "x")
            if len(sizes) > 1:
                emit("plan_time", f"{cloud}.growth_exponent", growth_exponent(sizes, seconds), "", target="~1.0 (linear)")
                emit("plan_time", f"{cloud}.floor_growth_exponent", growth_exponent(sizes, floors), "",
                     what="the floor's own growth: what Pulumi's runtime does with more resources")
    return 0


if __name__ == "__main__":
    sys.exit(main())
