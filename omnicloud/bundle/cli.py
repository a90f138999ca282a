"""`omnicloud package --cloud C [--app PATH] [--out DIR]`: build artifacts and manifest.json."""

from __future__ import annotations

import sys
from pathlib import Path


def run(args) -> int:
    """Build (omnicloud/cli.py has already found that something changed since the last build)."""
    from omnicloud import package_stamp as stamp

    from . import PYTHON_VERSIONS, cache_dir_for
    from .bytecode import compiler_for, start_early, stop_early

    app_path = Path(args.app)
    out = stamp.out_dir(app_path, args.cloud, args.out)
    stamp.forget(out)
    # The cloud's interpreter starts while app.yaml loads and the checks run: a changed module's
    # bytecode then waits for its compile only.
    start_early(compiler_for(PYTHON_VERSIONS[args.cloud], cache_dir_for(app_path.resolve().parent)))
    try:
        return _build(args, app_path, out)
    finally:
        stop_early()


def _build(args, app_path: Path, out: Path) -> int:
    from omnicloud import package_stamp as stamp
    from spec import SpecError, load_app

    from . import BuildInputs, PackageError, build_artifacts, code_problems, write_manifest

    try:
        app = load_app(app_path, cloud=args.cloud)
    except SpecError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    problems = code_problems(app, app_path.resolve().parent, shown_dir=app_path.parent)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        return 2
    inputs = BuildInputs.empty()
    inputs.files.add(app_path.resolve())
    try:
        artifacts = build_artifacts(app, app_path.resolve().parent, args.cloud, out, inputs=inputs, checked=True)
    except PackageError as exc:
        print(f"omnicloud package: {exc}", file=sys.stderr)
        return 2
    manifest = write_manifest(args.cloud, artifacts, out)
    printed = [f"{name:<20} {artifact.bytes / 1024:>9.1f} KiB  sha256:{artifact.sha256[:16]}  {artifact.path}"
               for name, artifact in sorted(artifacts.items())]
    printed.append(f"manifest: {manifest}")
    print("\n".join(printed))
    stamp.record(out, args.cloud, app_path.resolve(), inputs.files, inputs.directories,
                 [manifest, *(a.path for a in artifacts.values())], printed)
    return 0
