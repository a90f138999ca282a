"""The `omnicloud` command: init, validate, schema, preview, package, dev, console, invoke, dlq.

Every command that reads an app takes the same two options: `--project DIR` is the project
directory (Pulumi.yaml, the Pulumi.<stack>.yaml files and, by default, app.yaml; default: the
current directory), and `--app PATH` is the app declaration, a path from the current directory
like any other path on the command line (default: app.yaml in the project; for preview, the
stack's omnicloud:app).
"""

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


def project_app(args: argparse.Namespace) -> str:
    """The app declaration a command reads: `--app` as given, else app.yaml in `--project`."""
    if args.app:
        return args.app
    return str(Path(args.project) / "app.yaml")


def cmd_init(args: argparse.Namespace) -> int:
    from omnicloud.init import InitError, create

    try:
        written = create(Path(args.directory), template=args.template, name=args.name, cloud=args.cloud)
    except InitError as exc:
        return _fail(str(exc))
    where = args.directory
    print(f"omnicloud: created the {args.template} app in {where} ({len(written)} files); next, in {where}:")
    print("  pip install -r requirements-dev.txt   # in the virtualenv Pulumi.yaml names (see README.md)")
    print("  omnicloud validate && omnicloud preview --cloud all && pytest")
    print("  omnicloud dev                          # the app on http://127.0.0.1:8080")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from spec import SpecError, load_app_with_warnings
    from spec.capabilities import CLOUDS
    from spec.loader import did_you_mean

    app_path = project_app(args)
    cloud = (args.cloud or "").strip().lower() or None
    if cloud == "all":
        cloud = None
    if cloud is not None and cloud not in CLOUDS:
        hint = did_you_mean(cloud, CLOUDS) or {"amazon": "; did you mean 'aws'?", "google": "; did you mean 'gcp'?",
                                              "gcloud": "; did you mean 'gcp'?"}.get(cloud, "")
        return _fail(f"--cloud {args.cloud!r} is not a cloud omnicloud deploys to; use aws, azure or gcp{hint}")
    try:
        app, warnings = load_app_with_warnings(Path(app_path), cloud=cloud)
    except SpecError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_USAGE
    from omnicloud.bundle import code_problems

    app_dir = Path(app_path).parent
    in_code = code_problems(app, app_dir, shown_dir=app_dir)
    for problem in in_code:
        print(problem, file=sys.stderr)
    if in_code:
        return EXIT_USAGE
    for warning in warnings:
        print(warning, file=sys.stderr)
    clouds = cloud or "aws, azure and gcp"
    note = f" ({len(warnings)} warning{'s' if len(warnings) != 1 else ''})" if warnings else ""
    print(f"{app_path}: valid for {clouds}{note}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from spec.schema import app_schema

    print(json.dumps(app_schema(), indent=2))
    return 0


def cmd_preview(args: argparse.Namespace) -> int:
    import subprocess

    clouds = ["aws", "azure", "gcp"] if args.cloud == "all" else [args.cloud]
    project = Path(args.project).resolve()
    # --app is a path from the current directory, as in every other command; without it the
    # stack's omnicloud:app (relative to the project, as `pulumi up` reads it) applies.
    app = str(Path(args.app).resolve()) if args.app else None
    if len(clouds) > 1:
        # One process per cloud: each imports only its own Pulumi SDK, as a real stack does.
        results, failed = [], False
        for cloud in clouds:
            cmd = [sys.executable, "-m", "omnicloud", "preview", "--cloud", cloud, "--stack", args.stack,
                   "--project", str(project)] + (["--app", app] if app else []) + (["--json"] if args.json else [])
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

    from omnicloud.preview import ProgramError, read_stack_config, render_tree, run_preview
    from omnicloud.registry import RegistryError

    try:
        read_stack_config(project, args.stack, cloud=clouds[0])
        result = run_preview(project, clouds[0], args.stack, app=app)
    except ProgramError as exc:
        # The program's own one-line errors (app.yaml problems, stack settings), as `pulumi up` shows them.
        for line in str(exc).splitlines():
            print(line, file=sys.stderr)
        return EXIT_USAGE
    except (FileNotFoundError, ValueError, RegistryError) as exc:
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
    from omnicloud import package_stamp

    app = Path(args.app)
    printed = package_stamp.unchanged(package_stamp.out_dir(app, args.cloud, args.out), args.cloud, app.resolve())
    if printed is not None:  # nothing the last build read has changed: its artifacts stand
        print("\n".join(printed))
        return 0
    from omnicloud.bundle.cli import run

    return run(args)


def cmd_dev(args: argparse.Namespace) -> int:
    from omnicloud.dev.server import run

    return run(args)


def cmd_console(args: argparse.Namespace) -> int:
    from omnicloud.dev.console_auth import ConsoleAuthError, sign_in_link

    try:
        print(sign_in_link(Path(args.state)))
    except ConsoleAuthError as exc:
        return _fail(str(exc))
    return 0


def cmd_invoke(args: argparse.Namespace) -> int:
    from omnicloud.dev.invoke import run

    return run(args)


APP_HELP = "the app declaration, a path from the current directory (default: app.yaml in the project)"
PROJECT_HELP = "the project directory: Pulumi.yaml, Pulumi.<stack>.yaml, app.yaml (default: .)"


def _app_options(p: argparse.ArgumentParser, app_help: str = APP_HELP) -> None:
    p.add_argument("--project", default=".", metavar="DIR", help=PROJECT_HELP)
    p.add_argument("--app", metavar="PATH", help=app_help)


def build_parser() -> argparse.ArgumentParser:
    from omnicloud import __version__
    from omnicloud.init import TEMPLATES

    parser = argparse.ArgumentParser(prog="omnicloud", description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--version", action="version", version=f"omnicloud {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("init", help="start a new app from a template in an empty directory",
                       description="Write a new project: app.yaml, handlers, tests, Pulumi.yaml and stacks, README.",
                       epilog="templates:\n" + "\n".join(f"  {name:<14}{t.summary}" for name, t in TEMPLATES.items()),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("directory", nargs="?", default=".", help="where to write the project (default: .); "
                   "existing files are never overwritten")
    p.add_argument("--template", required=True, choices=list(TEMPLATES), metavar="NAME",
                   help=f"one of: {', '.join(TEMPLATES)}")
    p.add_argument("--name", help="the app name in app.yaml and Pulumi.yaml (default: from the directory name)")
    p.add_argument("--cloud", default="aws", choices=["aws", "azure", "gcp"],
                   help="the cloud of the generated stacks (default: aws; change it any time)")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("validate", help="check app.yaml; exit 2 with one line per problem")
    _app_options(p)
    p.add_argument("--cloud", metavar="{aws,azure,gcp}", help="check one cloud's limits (default: all three)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("schema", help="print the JSON Schema of app.yaml (for yaml-language-server)")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("preview", help="show offline what a cloud would get (Pulumi program under mocks)")
    p.add_argument("--cloud", required=True, choices=["aws", "azure", "gcp", "all"])
    p.add_argument("--stack", default="dev", help="stack whose Pulumi.<stack>.yaml in the project to read (default: dev)")
    _app_options(p, "the app declaration, a path from the current directory (default: the stack's"
                    " omnicloud:app, else app.yaml, in the project)")
    p.add_argument("--json", action="store_true", help="print resources as JSON")
    p.set_defaults(func=cmd_preview)

    p = sub.add_parser("package", help="build each function's deterministic artifact for a cloud")
    p.add_argument("--cloud", required=True, choices=["aws", "azure", "gcp"])
    _app_options(p)
    p.add_argument("--out", default=None, help="output directory (default: .omnicloud/package/<cloud>)")
    p.set_defaults(func=cmd_package)

    p = sub.add_parser("dev", help="run the whole app locally: HTTP gateway, queues, topics, tables, schedules")
    _app_options(p)
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--state", default=".omnicloud/state", help="directory of the local SQLite state")
    p.add_argument("--no-reload", action="store_true", help="do not restart on code changes")
    p.set_defaults(func=cmd_dev)

    p = sub.add_parser("console", help="print a one-time link that signs a browser in to the running dev console",
                       description="Print a one-time sign-in link to the console of the `omnicloud dev` that runs on "
                                   "this state directory (valid for 10 minutes, once).")
    p.add_argument("--state", default=".omnicloud/state", help="directory of the local state (default: %(default)s)")
    p.set_defaults(func=cmd_console)

    from omnicloud.dev.invoke import EVENT_HELP

    p = sub.add_parser("invoke", help="run one function once with an event from a file",
                       description="Run one function once, locally, with its own environment and links.",
                       epilog=EVENT_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("function")
    p.add_argument("--event", required=True, help="JSON event file (- for stdin)")
    p.add_argument("--no-filter", action="store_true",
                   help="topic subscribers: deliver the event even if the subscription's filter would drop it")
    _app_options(p)
    p.add_argument("--state", default=".omnicloud/state")
    p.set_defaults(func=cmd_invoke)

    from omnicloud.dev.dlq import add_parser

    add_parser(sub, _app_options)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "project", None) is not None and args.command != "preview":
        args.app = project_app(args)  # package, dev, invoke and dlq read args.app
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
