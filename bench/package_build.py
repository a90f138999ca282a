"""Packaging: `omnicloud package` build time (cold and warm wheel cache) and artifact size per cloud.

On the sample app (app.yaml at the repository root, its functions/requirements.txt vendored
where the cloud needs it). Each build is the real command in a fresh process:
- cold: empty OMNICLOUD_CACHE_DIR, empty output directory, pip's own cache disabled (so the
  wheels really come from the index);
- warm cache: the wheel/site cache from a previous build, a new output directory (every zip written);
- unchanged: the same output directory again (nothing changed: the zips are reused).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, emit, log, median  # noqa: E402

BENCH = "packaging"
CLOUDS = ("aws", "azure", "gcp")


def _omnicloud() -> list[str]:
    script = Path(sys.executable).with_name("omnicloud")
    return [str(script)] if script.exists() else [sys.executable, "-m", "omnicloud"]


def build(cloud: str, out: Path, cache: Path, *, pip_cache: bool) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNICLOUD_")}
    env["OMNICLOUD_CACHE_DIR"] = str(cache)
    if not pip_cache:
        env["PIP_NO_CACHE_DIR"] = "1"
    start = time.perf_counter()
    proc = subprocess.run([*_omnicloud(), "package", "--cloud", cloud, "--app", str(ROOT / "app.yaml"),
                           "--out", str(out)], capture_output=True, text=True, env=env, cwd=ROOT)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"packaging: omnicloud package --cloud {cloud} failed: {proc.stderr.strip()[-400:]}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold-runs", type=int, default=2)
    parser.add_argument("--warm-runs", type=int, default=5)
    parser.add_argument("--clouds", default=",".join(CLOUDS))
    parser.add_argument("--quick", action="store_true", help="1 cold and 3 warm builds per cloud")
    args = parser.parse_args(argv)
    if args.quick:
        args.cold_runs, args.warm_runs = 1, 3
    requirements = ROOT / "functions" / "requirements.txt"
    vendored = requirements.is_file()
    with tempfile.TemporaryDirectory(prefix="omnicloud-package-") as tmp:
        for cloud in args.clouds.split(","):
            log(f"packaging: {cloud}: {args.cold_runs} cold + {args.warm_runs} warm-cache builds")
            cold, warm, unchanged = [], [], []
            for i in range(args.cold_runs):
                cache = Path(tmp) / f"{cloud}-cache-{i}"
                cold.append(build(cloud, Path(tmp) / f"{cloud}-cold-{i}", cache, pip_cache=False))
            for i in range(args.warm_runs):
                out = Path(tmp) / f"{cloud}-warm-{i}"
                warm.append(build(cloud, out, cache, pip_cache=False))
                unchanged.append(build(cloud, out, cache, pip_cache=False))
            manifest = json.loads((out / "manifest.json").read_text())["artifacts"]
            sizes = {name: a["bytes"] for name, a in manifest.items()}
            files = {name: a["files"] for name, a in manifest.items()}
            common = dict(functions=len(sizes), vendors_requirements=vendored and cloud != "gcp")
            emit(BENCH, f"{cloud}.cold_seconds", median(cold), "s", runs=len(cold),
                 note="empty wheel cache, pip cache off: downloads from the package index", **common)
            emit(BENCH, f"{cloud}.warm_cache_seconds", median(warm), "s", runs=len(warm),
                 ratio_to_cold=round(median(warm) / median(cold), 3), **common)
            emit(BENCH, f"{cloud}.unchanged_seconds", median(unchanged), "s", runs=len(unchanged),
                 note="same output directory again: every zip reused", **common)
            emit(BENCH, f"{cloud}.artifact_bytes", sum(sizes.values()), "bytes",
                 largest_function=max(sizes, key=sizes.get), largest_bytes=max(sizes.values()),
                 per_function=sizes, files_per_function=files, **common)
    return 0


if __name__ == "__main__":
    sys.exit(main())
