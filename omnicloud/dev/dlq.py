"""`omnicloud dlq list|show|redrive|purge`: dead letters in the local state of `omnicloud dev`.

Works on the state directory directly (SQLite allows it while `omnicloud dev` runs: a redriven
message is picked up by the running server's consumers at their next poll).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

# The actions import the local state (.deadletters, runtime.backends.local) when they run: every
# `omnicloud` command builds this parser, and most never touch the state.

EXIT_USAGE = 2
EXIT_NOT_FOUND = 1


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    print(f"omnicloud dlq: {message}", file=sys.stderr, flush=True)
    return code


def _age(ts: float) -> str:
    seconds = max(0, int(time.time() - ts))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def _one_line(text: str | None, width: int = 70) -> str:
    line = " ".join((text or "-").split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows
    )


def run(args: argparse.Namespace) -> int:
    from runtime.backends.local import Store
    from spec import SpecError, load_app

    from .deadletters import UnknownMessage, UnknownQueue

    try:
        spec = load_app(Path(args.app))
    except SpecError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_USAGE
    state = Path(args.state)
    if not (state / "state.db").is_file():
        return _fail(
            f"no local state in {state} (state.db is missing); run `omnicloud dev` first, "
            "or pass --state DIR"
        )
    store = Store.at(state)
    try:
        return ACTIONS[args.action](args, spec, store)
    except (UnknownQueue, UnknownMessage) as exc:
        return _fail(str(exc), EXIT_NOT_FOUND)


def _list(args, spec, store) -> int:
    from .deadletters import queues_of, resolve

    if args.queue is None:
        rows = [["QUEUE", "DEAD LETTERS", "WAITING", "CONSUMER"]]
        for info in queues_of(spec):
            rows.append(
                [
                    info.name,
                    str(store.count(info.dlq)),
                    str(store.count(info.name)),
                    info.consumer or "-",
                ]
            )
        print(_table(rows))
        return 0
    info = resolve(spec, args.queue)
    page = store.browse(info.dlq, limit=args.limit)
    total = store.count(info.dlq)
    if not page:
        print(f"{info.dlq}: no dead letters")
        return 0
    shown = f"the oldest {len(page)} of " if len(page) < total else ""
    print(f"{info.dlq}: {shown}{total} dead letter{'s' if total != 1 else ''}, oldest first")
    rows = [["ID", "ATTEMPTS", "ENQUEUED", "LAST ERROR"]]
    rows += [
        [m.id, str(m.receive_count), _age(m.enqueued_at), _one_line(m.last_error)] for _, m in page
    ]
    print(_table(rows))
    return 0


def _show(args, spec, store) -> int:
    from .deadletters import dead_letter, describe, resolve

    info = resolve(spec, args.queue)
    message = describe(dead_letter(store, info, args.message_id))
    if args.json:
        print(json.dumps(message, indent=2))
        return 0
    print(f"dead letter {message['id']} in {info.dlq} (from {info.name})")
    print(f"  attempts:   {message['attempts']}")
    print(f"  enqueued:   {message['enqueued_at']}")
    print(f"  last error: {message['last_error'] or '-'}")
    print("  attributes:" + ("" if message["attributes"] else " none"))
    for key, value in sorted(message["attributes"].items()):
        print(f"    {key}: {value}")
    print("  body:")
    body = json.dumps(message["json"], indent=2) if "json" in message else message["body"]
    print("\n".join("    " + line for line in body.splitlines() or [""]))
    return 0


def _redrive(args, spec, store) -> int:
    from .deadletters import redrive, resolve

    info = resolve(spec, args.queue)
    if (args.message_id is None) == (not args.all):
        return _fail("name one MESSAGE_ID to redrive, or pass --all (not both)")
    moved = redrive(store, info, args.message_id)
    print(f"redrove {moved} message{'s' if moved != 1 else ''} from {info.dlq} to {info.name}")
    return 0


def _purge(args, spec, store) -> int:
    from .deadletters import resolve

    info = resolve(spec, args.queue)
    purged = store.purge(info.dlq)
    print(f"purged {purged} dead letter{'s' if purged != 1 else ''} from {info.dlq}")
    return 0


ACTIONS = {"list": _list, "show": _show, "redrive": _redrive, "purge": _purge}


def add_parser(sub, app_options) -> None:
    """`omnicloud dlq ...` on the CLI's subparsers (`app_options` adds --project/--app)."""
    p = sub.add_parser(
        "dlq",
        help="list, read, redrive or purge dead letters of the local state",
        description="Dead letters in the local state of `omnicloud dev`: every queue of app.yaml "
        "and every topic subscription (<topic>~<function>) has one dead-letter queue.",
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        a = actions.add_parser(name, help=help_text)
        app_options(a)
        a.add_argument(
            "--state",
            default=".omnicloud/state",
            help="directory of the local state (default: %(default)s)",
        )
        return a

    a = action("list", "every queue's dead-letter count, or one queue's dead letters")
    a.add_argument(
        "queue", nargs="?", help="a queue (or <topic>~<function>); without it, every queue"
    )
    a.add_argument(
        "--limit", type=int, default=50, help="dead letters to list (default: %(default)s)"
    )
    a = action("show", "one dead letter: body, attributes, attempts, last error")
    a.add_argument("queue")
    a.add_argument("message_id", metavar="MESSAGE_ID")
    a.add_argument("--json", action="store_true", help="print it as JSON")
    a = action("redrive", "move dead letters back to their queue, to be delivered again")
    a.add_argument("queue")
    a.add_argument("message_id", metavar="MESSAGE_ID", nargs="?")
    a.add_argument("--all", action="store_true", help="every dead letter of the queue")
    a = action("purge", "delete every dead letter of a queue")
    a.add_argument("queue")
    p.set_defaults(func=run)
