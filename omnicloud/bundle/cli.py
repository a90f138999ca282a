"""`omnicloud package --cloud C [--app PATH] [--out DIR]`: build artifacts and manifest.json."""

from __future__ import annotations

import sys
from pathlib import Path


def run(args) -> int:
    from spec import SpecError, load_app

    from . import PackageError, build_artifacts, code_problems, write_manifest

    app_path = Path(args.app)
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
    out = Path(args.out) if args.out else app_path.resolve().parent / ".omnicloud" / "package" / args.cloud
    try:
        artifacts = build_artifacts(app, app_path.resolve().parent, args.cloud, out)
    except PackageError as exc:
        print(f"omnicloud package: {exc}", file=sys.stderr)
        return 2
    manifest = write_manifest(args.cloud, artifacts, out)
    for name, artifact in sorted(artifacts.items()):
        print(f"{name:<20} {artifact.bytes / 1024:>9.1f} KiB  sha256:{artifact.sha256[:16]}  {artifact.path}")
    print(f"manifest: {manifest}")
    return 0
