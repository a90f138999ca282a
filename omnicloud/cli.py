"""The `omnicloud` command: validate, schema, preview, package, dev, invoke."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

EXIT_USAGE = 2


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    print(f"omnicloud: {message}", file=sys.stderr)
    return code


def cmd_validate(args: argparse.Namespace) -> int:
    from spec import SpecError, load_app_with_warnings
    from spec.capabilities import CLOUDS
    from spec.loader import did_you_mean

    cloud = (args.cloud or "").strip().lower() or None
    if cloud == "all":
        cloud = None
    if cloud is not None and cloud not in CLOUDS:
        hint = did_you_mean(cloud, CLOUDS) or {"amazon": "; did you mean 'aws'?", "google": "; did you mean 'gcp'?",
                                              "gcloud": "; did you mean 'gcp'?"}.get(cloud, "")
        return _fail(f"--cloud {args.cloud!r} is not a cloud omnicloud deploys to; use aws, azure or gcp{hint}")
    try:
        app, warnings = load_app_with_warnings(Path(args.app), cloud=cloud)
    except SpecError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_USAGE
    from omnicloud.bundle.deps import dependency_problems

    app_dir = Path(args.app).parent
    dependencies = dependency_problems(app, app_dir, shown_dir=app_dir)
    for problem in dependencies:
        print(problem, file=sys.stderr)
    if dependencies:
        return EXIT_USAGE
    for warning in warnings:
        print(warning, file=sys.stderr)
    clouds = cloud or "aws, azure and gcp"
    note = f" ({len(warnings)} warning{'s' if len(warnings) != 1 else ''})" if warnings else ""
    print(f"{args.app}: valid for {clouds}{note}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from spec.schema import app_schema

    print(json.dumps(app_schema(), indent=2))
    return 0


def cmd_preview(args: argparse.Namespace) -> int:
    import subprocess

    from omnicloud.program import StackConfigError
    from spec import SpecError

    clouds = ["aws", "azure", "gcp"] if args.cloud == "all" else [args.cloud]
    project = Path(args.project).resolve()
    if len(clouds) > 1:
        # One process per cloud: each imports only its own Pulumi SDK, as a real stack does.
        results, failed = [], False
        for cloud in clouds:
            cmd = [sys.executable, "-m", "omnicloud", "preview", "--cloud", cloud, "--stack", args.stack,
                   "--project", str(project)] + (["--app", args.app] if args.app else []) + (["--json"] if args.json else [])
            print(f"omnicloud: previewing {cloud}...", file=sys.stderr)
            proc = subprocess.run(cmd, capture_output=True, text=True)
            sys.stderr.write(proc.stderr)
            if proc.returncode != 0:
                failed = True
                continue
            results.append(json.loads(proc.stdout) if args.json else proc.stdout)
        if args.json:
            print(json.dumps(results, indent=2))
        else:
            print("\n".join(results))
        return EXIT_USAGE if failed else 0

    from omnicloud.preview import read_stack_config, render_tree, run_preview

    try:
        read_stack_config(project, args.stack)
        result = run_preview(project, clouds[0], args.stack, app=args.app)
    except SpecError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_USAGE
    except (StackConfigError, FileNotFoundError, ValueError) as exc:
        return _fail(str(exc))
    for warning in result.warnings:
        print(warning, file=sys.stderr)
    if args.json:
        print(json.dumps(result.as_json(), indent=2))
    else:
        print(render_tree(result))
    # The Pulumi SDK leaves per-thread event loops behind; letting interpreter shutdown collect
    # them prints a spurious asyncio traceback. The work is done and flushed: leave at once.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def cmd_package(args: argparse.Namespace) -> int:
    from omnicloud.bundle.cli import run

    return run(args)


def cmd_dev(args: argparse.Namespace) -> int:
    from omnicloud.dev.server import run

    return run(args)


def cmd_invoke(args: argparse.Namespace) -> int:
    from omnicloud.dev.invoke import run

    return run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="omnicloud", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check app.yaml; exit 2 with one line per problem")
    p.add_argument("--app", default="app.yaml", help="path of the app declaration (default: app.yaml)")
    p.add_argument("--cloud", metavar="{aws,azure,gcp}", help="check one cloud's limits (default: all three)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("schema", help="print the JSON Schema of app.yaml (for yaml-language-server)")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("preview", help="show offline what a cloud would get (Pulumi program under mocks)")
    p.add_argument("--cloud", required=True, choices=["aws", "azure", "gcp", "all"])
    p.add_argument("--stack", default="dev", help="stack whose Pulumi.<stack>.yaml to read (default: dev)")
    p.add_argument("--app", help="app declaration, relative to the project (default: the stack's omnicloud:app)")
    p.add_argument("--project", default=".", help="the Pulumi project directory (default: .)")
    p.add_argument("--json", action="store_true", help="print resources as JSON")
    p.set_defaults(func=cmd_preview)

    p = sub.add_parser("package", help="build each function's deterministic artifact for a cloud")
    p.add_argument("--cloud", required=True, choices=["aws", "azure", "gcp"])
    p.add_argument("--app", default="app.yaml")
    p.add_argument("--out", default=None, help="output directory (default: .omnicloud/package/<cloud>)")
    p.set_defaults(func=cmd_package)

    p = sub.add_parser("dev", help="run the whole app locally: HTTP gateway, queues, topics, tables, schedules")
    p.add_argument("--app", default="app.yaml")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--state", default=".omnicloud/state", help="directory of the local SQLite state")
    p.add_argument("--no-reload", action="store_true", help="do not restart on code changes")
    p.set_defaults(func=cmd_dev)

    from omnicloud.dev.invoke import EVENT_HELP

    p = sub.add_parser("invoke", help="run one function once with an event from a file",
                       description="Run one function once, locally, with its own environment and links.",
                       epilog=EVENT_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("function")
    p.add_argument("--event", required=True, help="JSON event file (- for stdin)")
    p.add_argument("--app", default="app.yaml")
    p.add_argument("--state", default=".omnicloud/state")
    p.set_defaults(func=cmd_invoke)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
