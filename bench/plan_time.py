"""Plan time: `omnicloud preview` on generated apps of 10, 100 and 1000 functions per cloud.

Each measurement runs in a fresh process. Figures: seconds and peak RSS of the preview, the
growth exponent over sizes, and the ratio to the floor: the same cloud resources (types, names,
resolved inputs) registered directly, with no components, providers or spec, under the same mocks.
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
    start = time.perf_counter()
    result = run_preview(project, cloud, "dev")
    seconds = time.perf_counter() - start
    if dump:
        custom = [{"type": r.type, "name": r.name, "props": r.props} for r in result.resources if r.custom]
        dump.write_text(json.dumps(custom))
    return {"seconds": seconds, "resources": len(result.resources),
            "custom": sum(1 for r in result.resources if r.custom)}


def _measure_floor(dump: Path, cloud: str) -> dict:
    import importlib

    import pulumi
    from pulumi.runtime import mocks, settings
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    importlib.import_module({"aws": "pulumi_aws", "azure": "pulumi_azure_native", "gcp": "pulumi_gcp"}[cloud])
    state = importlib.import_module(f"omnicloud.mockstate.{cloud}")
    resources = json.loads(dump.read_text())

    class Floor(mocks.Mocks):
        def new_resource(self, args):
            return state.state(args.typ, args.name, dict(args.inputs))

        def call(self, args):
            return state.call(args.token, dict(args.args)), []

    def program():
        for i, r in enumerate(resources):
            pulumi.CustomResource(r["type"], f"{r['name']}-{i}", r["props"])

    start = time.perf_counter()
    settings.ROOT.set(None)
    mocks.set_mocks(Floor(), project="floor", stack="dev", preview=False)
    _sync_await(run_pulumi_func(program))
    return {"seconds": time.perf_counter() - start, "resources": len(resources)}


def _child(args) -> int:
    if args.floor:
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
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--clouds", default="aws,azure,gcp")
    args = parser.parse_args(argv)
    if args.child:
        return _child(args)
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="omnicloud-plan-") as tmp:
        for cloud in args.clouds.split(","):
            seconds = []
            for n in sizes:
                project = Path(tmp) / f"app{n}"
                if not (project / "app.yaml").exists():
                    generate(project, n)
                dump = Path(tmp) / f"{cloud}-{n}.json"
                log(f"plan time: {cloud}, {n} functions")
                ours = _run_child("--cloud", cloud, "--project", str(project), "--dump", str(dump))
                floor = _run_child("--cloud", cloud, "--floor", str(dump))
                seconds.append(ours["seconds"])
                emit("plan_time", f"{cloud}.{n}.seconds", ours["seconds"], "s", resources=ours["resources"])
                emit("plan_time", f"{cloud}.{n}.peak_rss", ours["peak_rss_mb"], "MB")
                emit("plan_time", f"{cloud}.{n}.floor_seconds", floor["seconds"], "s", resources=floor["resources"])
                emit("plan_time", f"{cloud}.{n}.ratio_to_floor", ours["seconds"] / floor["seconds"], "x",
                     target="<= 1.3")
            if len(sizes) > 1:
                emit("plan_time", f"{cloud}.growth_exponent", growth_exponent(sizes, seconds), "", target="~1.0 (linear)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
