"""Packaging: `omnicloud package` build time and artifact size per cloud, on the sample app.

A copy of the sample app (app.yaml and functions/, whose requirements.txt is vendored where the
cloud needs it) is packaged with the real command in a fresh process each time:
- cold: empty OMNICLOUD_CACHE_DIR, empty output directory, pip's own cache disabled (the wheels
  really come from the index);
- warm cache: the cache from a previous build, a new output directory (every zip written);
- one-function change: the same output directory after editing a module only one function
  imports (functions/api.py: the api function, the largest zip);
- unchanged: the same output directory again, nothing edited.
Targets (issue 14): a one-function change <= 0.5 s warm, unchanged <= 0.2 s. Each is also timed
in-process (`build_artifacts` + manifest, what `pulumi up` and preview run), which leaves out the
interpreter's start and the imports of the command.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, emit, log, median  # noqa: E402

BENCH = "packaging"
CLOUDS = ("aws", "azure", "gcp")
CHANGED_MODULE = "functions/api.py"  # imported by the api function only
CHANGE_TARGET_S = 0.5
UNCHANGED_TARGET_S = 0.2


def _omnicloud() -> list[str]:
    script = Path(sys.executable).with_name("omnicloud")
    return [str(script)] if script.exists() else [sys.executable, "-m", "omnicloud"]


def _env(cache: Path, *, pip_cache: bool) -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE (set on some CI machines) would make every command compile omnicloud's
    # own modules again: a warm command, like a user's, runs from their cached bytecode.
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNICLOUD_") and k != "PYTHONDONTWRITEBYTECODE"}
    env["OMNICLOUD_CACHE_DIR"] = str(cache)
    if not pip_cache:
        env["PIP_NO_CACHE_DIR"] = "1"
    return env


def build(app: Path, cloud: str, out: Path, cache: Path, *, pip_cache: bool = False) -> float:
    start = time.perf_counter()
    proc = subprocess.run([*_omnicloud(), "package", "--cloud", cloud, "--app", str(app / "app.yaml"),
                           "--out", str(out)], capture_output=True, text=True, env=_env(cache, pip_cache=pip_cache),
                          cwd=app)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"packaging: omnicloud package --cloud {cloud} failed: {proc.stderr.strip()[-400:]}")
    return seconds


IN_PROCESS = """
import sys, time
from pathlib import Path
start = time.perf_counter()
from omnicloud.bundle import build_artifacts, write_manifest
from spec import load_app
app = Path(sys.argv[1])
imported = time.perf_counter()
spec = load_app(app / "app.yaml", cloud=sys.argv[2])
artifacts = build_artifacts(spec, app, sys.argv[2], Path(sys.argv[3]), progress=None)
write_manifest(sys.argv[2], artifacts, Path(sys.argv[3]))
print(time.perf_counter() - imported)
"""


def build_in_process(app: Path, cloud: str, out: Path, cache: Path) -> float:
    """Seconds of load_app + build_artifacts + write_manifest, after the imports (as `pulumi up` runs it)."""
    proc = subprocess.run([sys.executable, "-c", IN_PROCESS, str(app), cloud, str(out)], capture_output=True,
                          text=True, env={**_env(cache, pip_cache=False), "PYTHONPATH": str(ROOT)}, cwd=app)
    if proc.returncode != 0:
        raise SystemExit(f"packaging: in-process build for {cloud} failed: {proc.stderr.strip()[-400:]}")
    return float(proc.stdout.strip().splitlines()[-1])


def sample_app(where: Path) -> Path:
    app = where / "app"
    app.mkdir(parents=True)
    shutil.copy(ROOT / "app.yaml", app / "app.yaml")
    shutil.copytree(ROOT / "functions", app / "functions", ignore=shutil.ignore_patterns("__pycache__"))
    return app


def edit(app: Path, n: int) -> None:
    """A one-function change: a new line at the end of a module only the api function imports."""
    module = app / CHANGED_MODULE
    module.write_text(module.read_text() + f"\n# edit {n}\n")


# Where a one-function change's `omnicloud package` spends its time: cumulative seconds of these
# functions under cProfile (the import closures are walked by the checks and by the build; app
# modules are parsed only where their content is new to the build cache).
CHANGED_PARTS = {
    "load app.yaml (spec.load_app)": ("spec/loader.py", "load_app"),
    "dependency check (bundle.deps.dependency_problems)": ("omnicloud/bundle/deps.py", "dependency_problems"),
    "names check (bundle.names.name_problems)": ("omnicloud/bundle/names.py", "name_problems"),
    "parsing app modules, all readers (sources.derive)": ("omnicloud/sources.py", "derive"),
    "build (bundle.build_artifacts)": ("omnicloud/bundle/__init__.py", "build_artifacts"),
    "import closures, in the check and the build (bundle.files.import_closure)": ("omnicloud/bundle/files.py",
                                                                                  "import_closure"),
    "bytecode: the cloud's python compiling the changed file": ("omnicloud/bundle/bytecode.py", "compile"),
    "writing the changed zip (bundle.write_zip)": ("omnicloud/bundle/__init__.py", "write_zip"),
    "manifest (bundle.write_manifest)": ("omnicloud/bundle/__init__.py", "write_manifest"),
    "stamp (package_stamp.record)": ("omnicloud/package_stamp.py", "record"),
}


def profile_changed(app: Path, cloud: str, out: Path, cache: Path) -> dict[str, float]:
    """A one-function change, packaged twice more: under `python -X importtime` (seconds of imports)
    and under cProfile (seconds in each of CHANGED_PARTS)."""
    import pstats

    env = _env(cache, pip_cache=False)
    command = ["package", "--cloud", cloud, "--app", str(app / "app.yaml"), "--out", str(out)]
    edit(app, 900)
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "omnicloud", *command], capture_output=True,
                          text=True, env=env, cwd=app, check=True)
    imports = sum(int(line.split("|")[1]) for line in proc.stderr.splitlines()
                  if line.startswith("import time:") and line.split("|")[2].startswith(" ") and
                  not line.split("|")[2].startswith("  ") and line.split("|")[1].strip().isdigit()) / 1e6
    edit(app, 901)
    stats_file = out.parent / f"{cloud}-changed.pstats"
    subprocess.run([sys.executable, "-m", "cProfile", "-o", str(stats_file), "-m", "omnicloud", *command],
                   capture_output=True, text=True, env=env, cwd=app, check=True)
    stats = pstats.Stats(str(stats_file)).stats  # type: ignore[attr-defined]
    parts = {"imports (python -X importtime, top level)": round(imports, 3)}
    for label, (path, name) in CHANGED_PARTS.items():
        parts[label] = round(sum(cum for (f, _, n), (_, _, _, cum, _) in stats.items()
                                 if n == name and f.endswith(path)), 3)
    parts["whole command under cProfile"] = round(max(cum for _, _, _, cum, _ in stats.values()), 3)
    return parts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold-runs", type=int, default=1)
    parser.add_argument("--warm-runs", type=int, default=5)
    parser.add_argument("--clouds", default=",".join(CLOUDS))
    parser.add_argument("--quick", action="store_true", help="1 cold and 3 warm builds per cloud")
    args = parser.parse_args(argv)
    if args.quick:
        args.cold_runs, args.warm_runs = 1, 3
    with tempfile.TemporaryDirectory(prefix="omnicloud-package-") as tmp:
        app = sample_app(Path(tmp))
        for cloud in args.clouds.split(","):
            log(f"packaging: {cloud}: {args.cold_runs} cold + {args.warm_runs} warm builds of each kind")
            cold, warm, changed, unchanged = [], [], [], []
            changed_in, unchanged_in = [], []
            cache = Path(tmp) / f"{cloud}-cache"
            for i in range(args.cold_runs):
                cache = Path(tmp) / f"{cloud}-cache-{i}"
                cold.append(build(app, cloud, Path(tmp) / f"{cloud}-cold-{i}", cache))
            out = Path(tmp) / f"{cloud}-out"
            for i in range(args.warm_runs):
                out = Path(tmp) / f"{cloud}-warm-{i}"
                warm.append(build(app, cloud, out, cache))
                edit(app, i)
                changed.append(build(app, cloud, out, cache))
                unchanged.append(build(app, cloud, out, cache))
            in_process_out = Path(tmp) / f"{cloud}-in-process"
            build_in_process(app, cloud, in_process_out, cache)
            for i in range(args.warm_runs):
                edit(app, 100 + i)
                changed_in.append(build_in_process(app, cloud, in_process_out, cache))
                unchanged_in.append(build_in_process(app, cloud, in_process_out, cache))
            manifest = json.loads((out / "manifest.json").read_text())
            sizes = {name: a["bytes"] for name, a in manifest["artifacts"].items()}
            files = {name: a["files"] for name, a in manifest["artifacts"].items()}
            common = dict(functions=len(sizes), vendors_requirements=cloud != "gcp", python=manifest.get("python"),
                          loadavg=round(os.getloadavg()[0], 1))
            emit(BENCH, f"{cloud}.cold_seconds", median(cold), "s", runs=len(cold),
                 note="empty wheel cache, pip cache off: downloads from the package index", **common)
            emit(BENCH, f"{cloud}.warm_cache_seconds", median(warm), "s", runs=len(warm),
                 ratio_to_cold=round(median(warm) / median(cold), 3), **common)
            emit(BENCH, f"{cloud}.changed_seconds", median(changed), "s", runs=len(changed),
                 in_process_s=round(median(changed_in), 3), target=f"<= {CHANGE_TARGET_S} s",
                 met=median(changed) <= CHANGE_TARGET_S,
                 note=f"{CHANGED_MODULE} edited, same output directory: one zip written", **common)
            emit(BENCH, f"{cloud}.unchanged_seconds", median(unchanged), "s", runs=len(unchanged),
                 in_process_s=round(median(unchanged_in), 3), target=f"<= {UNCHANGED_TARGET_S} s",
                 met=median(unchanged) <= UNCHANGED_TARGET_S,
                 note="same output directory again: answered from the last build's stamp", **common)
            emit(BENCH, f"{cloud}.changed_profile", median(changed), "s", parts=profile_changed(app, cloud, out, cache),
                 note="a one-function change once more under -X importtime, and once under cProfile (cumulative "
                      "seconds; profiling inflates them)")
            emit(BENCH, f"{cloud}.artifact_bytes", sum(sizes.values()), "bytes",
                 largest_function=max(sizes, key=sizes.get), largest_bytes=max(sizes.values()),
                 per_function=sizes, files_per_function=files, **common)
    python_start = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        python_start.append(time.perf_counter() - start)
    emit(BENCH, "python_start_seconds", median(python_start), "s", runs=len(python_start),
         note="`python -c pass` in this venv: the floor of any command", loadavg=round(os.getloadavg()[0], 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
