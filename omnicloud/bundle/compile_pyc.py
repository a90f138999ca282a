"""Compile sources into unchecked-hash pycs: bytecode.py runs this file with the cloud's interpreter
(`python -I -S compile_pyc.py`, jobs as JSON on stdin), or calls `compile_jobs` when that interpreter
is the running one. Standard library only, and no syntax newer than the oldest cloud Python's.
"""

import json
import py_compile
import sys


def compile_jobs(jobs):
    """Compile each {"source", "dfile", "out"}; return [dfile, why] for each that did not compile."""
    failed = []
    for job in jobs:
        try:
            py_compile.compile(job["source"], cfile=job["out"], dfile=job["dfile"], doraise=True, optimize=0,
                               invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        except (py_compile.PyCompileError, UnicodeDecodeError, ValueError) as exc:
            failed.append([job["dfile"], str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__])
    return failed


if __name__ == "__main__":
    print(json.dumps(compile_jobs(json.load(sys.stdin))))
