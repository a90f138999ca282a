"""Run a Python module with every thread under cProfile, timed in CPU time; merged stats to FILE at exit.

    .venv/bin/python bench/profile_threads.py FILE -m omnicloud dev ...

cProfile profiles the thread that enables it only, and `omnicloud dev` runs its work on invocation
threads, so each thread gets its own profiler (started in Thread.run) and the main thread's and
theirs are merged when the process exits. The clock is each thread's CPU time
(time.thread_time): waiting for a lock, a socket or the next message costs nothing, so the
figures say where the CPU goes. Profiling slows the process down; compare shares, not seconds.
"""

from __future__ import annotations

import atexit
import cProfile
import pstats
import runpy
import sys
import threading
import time

_profiles: list[cProfile.Profile] = []
_lock = threading.Lock()
_original_run = threading.Thread.run


def _profiled_run(self: threading.Thread) -> None:
    profile = cProfile.Profile(time.thread_time)
    with _lock:
        _profiles.append(profile)
    profile.enable()
    try:
        _original_run(self)
    finally:
        profile.disable()


def _dump(path: str, main: cProfile.Profile) -> None:
    main.disable()
    with _lock:
        profiles = list(_profiles)
    stats = pstats.Stats(main)
    for profile in profiles:
        try:
            stats.add(profile)
        except TypeError:  # a thread that ran nothing profiled
            continue
    stats.dump_stats(path)


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] != "-m":
        raise SystemExit("usage: profile_threads.py FILE -m MODULE [ARGS...]")
    path, module = argv[0], argv[2]
    threading.Thread.run = _profiled_run  # type: ignore[method-assign]
    profile = cProfile.Profile(time.thread_time)
    atexit.register(_dump, path, profile)
    sys.argv = [module, *argv[3:]]
    profile.enable()
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
