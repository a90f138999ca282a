"""Figure 7: 100,000 agents in the local table — creation rate, cached and uncached reads, list pages.

    .venv/bin/python bench/scale.py [--quick] [--agents N] [--reads N]

Runs in one process against a temporary local state (SQLite), through the platform's own store
layer: functions.agents.create/get/list_page -> runtime Table client -> local backend, in the
`api` function's environment (links) as `omnicloud dev` sets it. The floor for creation is the
local backend's raw Store.table_put of the same items (no client, no conditional write).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, emit, log, percentile  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


TENANT = "tn_bench"  # every agent in one tenant, as one team's would be


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20,000 agents instead of 100,000")
    parser.add_argument("--agents", type=int, help="agents to create (default 100000; quick 20000)")
    parser.add_argument("--reads", type=int, default=20000, help="timed reads of each kind (default 20000)")
    args = parser.parse_args(argv)
    n = args.agents or (20_000 if args.quick else 100_000)
    workdir = Path(tempfile.mkdtemp(prefix="omnicloud-bench-scale-"))
    try:
        run(n, args.reads, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def run(n: int, reads: int, workdir: Path) -> None:
    from omnicloud.dev.app import LocalApp
    from runtime.links import use_environ

    os.chdir(ROOT)
    app = LocalApp(ROOT / "app.yaml", workdir / "state")
    os.environ.update(app.process_environ())
    os.environ["OMNICLOUD_CLOUD"] = "local"
    # A cache TTL longer than the run, so "cached" means cached for every timed read.
    environ = {**app.function_env("api"), "AGENT_CACHE_SECONDS": "3600"}
    floor_store = LocalApp(ROOT / "app.yaml", workdir / "floor").store

    with use_environ(environ):
        from functions import agents, validation

        fields = validation.agent_fields({"name": "scale", "model": "echo", "tools": ["calculator", "clock"],
                                          "limits": {"max_steps": 4, "timeout_seconds": 60}})
        agents.forget()
        rss0 = rss_mb()
        ids: list[str] = []
        create_s: list[float] = []
        start = time.perf_counter()
        for i in range(n):
            t0 = time.perf_counter()
            agent = agents.create(TENANT, {**fields, "name": f"agent-{i}"}, created_by="bench")
            create_s.append(time.perf_counter() - t0)
            ids.append(agent["agent_id"])
            if i and i % 20_000 == 0:
                log(f"scale: {i} agents, {i / (time.perf_counter() - start):.0f}/s")
        seconds = time.perf_counter() - start
        rss1 = rss_mb()

        # The floor: the same items straight into the local backend (one transaction each).
        items = [{"pk": f"TENANT#{TENANT}", "sk": f"AGENT#{i:012d}", "agent_id": f"{i:012d}", **fields,
                  "name": f"agent-{i}",
                  "created_at": "2025-01-01T00:00:00.000Z", "updated_at": "2025-01-01T00:00:00.000Z",
                  "created_by": "bench", "_version": 1} for i in range(min(n, 20_000))]
        t0 = time.perf_counter()
        for item in items:
            floor_store.table_put("agents", item["pk"], item["sk"], item)
        floor_rate = len(items) / (time.perf_counter() - t0)
        rate = n / seconds
        db_mb = (workdir / "state" / "state.db").stat().st_size / 1e6
        emit("scale", "create", rate, "agents/s", agents=n, seconds=round(seconds, 1),
             p50_us=round(percentile(create_s, 50) * 1e6, 1), p99_us=round(percentile(create_s, 99) * 1e6, 1),
             floor_rate=round(floor_rate), vs_floor=round(rate / floor_rate, 3), db_mb=round(db_mb, 1),
             via="functions.agents.create -> runtime Table -> local backend (SQLite)")

        sample = random.Random(7).choices(ids, k=reads)
        cached: list[float] = []
        for agent_id in sample:
            t0 = time.perf_counter()
            found = agents.get(TENANT, agent_id)
            cached.append(time.perf_counter() - t0)
            assert found is not None
        emit("scale", "read_cached.p99", percentile(cached, 99) * 1e6, "µs", p50_us=round(percentile(cached, 50) * 1e6, 2),
             reads=reads, agents=n, cache_entries=len(agents._cache),
             cache_rss_mb=round(rss1 - rss0, 1), via="functions.agents.get (warm instance cache)")

        uncached: list[float] = []
        for agent_id in sample:
            t0 = time.perf_counter()
            found = agents.get(TENANT, agent_id, fresh=True)
            uncached.append(time.perf_counter() - t0)
            assert found is not None
        emit("scale", "read_uncached.p99", percentile(uncached, 99) * 1e6, "µs",
             p50_us=round(percentile(uncached, 50) * 1e6, 1), reads=reads, agents=n,
             vs_cached_p99=round(percentile(uncached, 99) / percentile(cached, 99), 1),
             via="functions.agents.get(fresh=True) -> Table.get")

        pages: list[float] = []
        cursor, listed = None, 0
        start = time.perf_counter()
        while True:
            t0 = time.perf_counter()
            items_page, cursor = agents.list_page(TENANT, 100, cursor)
            pages.append(time.perf_counter() - t0)
            listed += len(items_page)
            if not cursor:
                break
        walk = time.perf_counter() - start
        assert listed >= n, f"listed {listed} of {n} agents"
        head, tail = pages[:20], pages[-20:]
        emit("scale", "list_page.p99", percentile(pages, 99) * 1000, "ms", page_size=100, pages=len(pages),
             p50_ms=round(percentile(pages, 50) * 1000, 3), walk_seconds=round(walk, 2),
             first_pages_ms=round(sum(head) / len(head) * 1000, 3), last_pages_ms=round(sum(tail) / len(tail) * 1000, 3),
             last_vs_first=round(sum(tail) / sum(head), 2), via="functions.agents.list_page (GET /agents)")


if __name__ == "__main__":
    sys.exit(main())
