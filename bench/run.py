"""Run every benchmark, collect its JSON lines in bench/results/latest.jsonl, regenerate BENCHMARKS.md.

    .venv/bin/python bench/run.py [--quick] [--only cold_start,warm_overhead,...]

Each benchmark is a script in bench/ run in its own process; every stdout line that is a JSON
object with a "benchmark" key is a figure. Benchmarks listed in OPTIONAL (the local platform
under `omnicloud dev`, and the 100k-agent scale run) are picked up as soon as their script
exists: they follow the same contract (bench.common.emit, `--quick` for fewer repetitions) and
BENCHMARKS.md shows their figures in sections 6 and 7, with `target`/`met` if they emit them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results" / "latest.jsonl"

# name -> (script, arguments in full mode, arguments in quick mode)
BENCHMARKS: dict[str, tuple[str, list[str], list[str]]] = {
    "cold_start": ("cold_start.py", [], ["--quick"]),
    "warm_overhead": ("warm_overhead.py", [], ["--quick"]),
    "client_first_use": ("client_first_use.py", [], ["--quick"]),
    "plan_time": ("plan_time.py", [], ["--sizes", "10,100"]),
    "packaging": ("package_build.py", [], ["--quick"]),
}
# Hooks for figures 6 and 7: run when the script exists.
OPTIONAL: dict[str, tuple[str, list[str], list[str]]] = {
    "local_platform": ("local_platform.py", ["--profile"], ["--quick", "--profile"]),
    "scale": ("scale.py", [], ["--quick"]),
}
PEERS = ["aws-lambda-powertools", "mangum", "fastapi", "functions-framework", "azure-functions"]


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def run_benchmark(name: str, script: str, args: list[str]) -> tuple[list[dict], int, float]:
    argv = [sys.executable, str(BENCH / script), *args]
    print(f"== {name}: {' '.join(shlex.quote(a) for a in argv[1:])}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    lines: list[dict] = []
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for raw in proc.stdout:
        raw = raw.strip()
        try:
            line = json.loads(raw)
        except ValueError:
            line = None
        if isinstance(line, dict) and "benchmark" in line:
            lines.append(line)
            print(f"   {line['benchmark']}.{line['figure']} = {line['value']} {line['unit']}", file=sys.stderr,
                  flush=True)
        elif raw:
            print(f"   {raw}", file=sys.stderr, flush=True)
    code = proc.wait()
    return lines, code, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a few minutes in all)")
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    args = parser.parse_args(argv)
    selected = {**BENCHMARKS, **{n: spec for n, spec in OPTIONAL.items() if (BENCH / spec[0]).exists()}}
    if args.only:
        unknown = set(args.only.split(",")) - set(selected)
        if unknown:
            print(f"bench/run.py: unknown or missing benchmark(s) {', '.join(sorted(unknown))}; "
                  f"choose from {', '.join(selected)}", file=sys.stderr)
            return 2
        selected = {n: s for n, s in selected.items() if n in args.only.split(",")}
    command = "bench/run.sh" + (" --quick" if args.quick else "") + (f" --only {args.only}" if args.only else "")
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = time.perf_counter()
    collected: list[dict] = []
    failed = []
    for name, (script, full, quick) in selected.items():
        lines, code, seconds = run_benchmark(name, script, quick if args.quick else full)
        collected += lines
        if code != 0:
            failed.append(name)
        print(f"== {name}: {len(lines)} figures in {seconds:.0f} s" + (f", exit {code}" if code else ""),
              file=sys.stderr, flush=True)
    meta = {
        "benchmark": "run", "command": command, "quick": args.quick, "started": started.isoformat(),
        "seconds": round(time.perf_counter() - start, 1), "nproc": os.cpu_count(), "cpu": _cpu(),
        "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": platform.python_version(), "failed": failed,
        "peers": ", ".join(f"{p}=={_version(p)}" for p in PEERS),
    }
    meta["runs"] = [{"benchmarks": sorted(selected), "command": command, "started": meta["started"],
                     "seconds": meta["seconds"], "quick": args.quick}]
    kept: list[dict] = []
    if args.only and RESULTS.exists():
        # A partial run replaces only its own figures; the others keep the run that measured them.
        previous = [json.loads(line) for line in RESULTS.read_text().splitlines() if line.strip()]
        kept = [line for line in previous if line.get("benchmark") not in (*selected, "run")]
        kept_names = {line["benchmark"] for line in kept}
        for old_meta in (line for line in previous if line.get("benchmark") == "run"):
            for run in old_meta.get("runs") or [{"benchmarks": sorted(kept_names), "command": old_meta.get("command"),
                                                 "started": old_meta.get("started"), "seconds": old_meta.get("seconds"),
                                                 "quick": old_meta.get("quick")}]:
                still = sorted(set(run["benchmarks"]) & kept_names)
                if still:
                    meta["runs"].append({**run, "benchmarks": still})
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("".join(json.dumps(line) + "\n" for line in [meta, *kept, *collected]))
    sys.path.insert(0, str(ROOT))
    from bench.report import generate

    output = generate(RESULTS)
    print(f"bench: {len(collected)} figures -> {RESULTS.relative_to(ROOT)}, {output.relative_to(ROOT)}"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
