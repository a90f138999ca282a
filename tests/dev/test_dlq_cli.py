"""`omnicloud dlq list|show|redrive|purge`: dead letters of the local state from the command line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from omnicloud.cli import main
from runtime.backends.base import OutgoingMessage
from runtime.backends.local import Store


@pytest.fixture
def app(app_copy) -> Path:
    return app_copy("basic")


@pytest.fixture
def state(app: Path) -> Path:
    return app.parent / "state"


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def dlq(app: Path, state: Path, capsys):
    """`omnicloud dlq ARGS --app APP --state STATE`, as the command line runs it (in this process)."""

    def run(*args: str) -> Result:
        code = main(["dlq", *args, "--app", str(app), "--state", str(state)])
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def dead_letter(
    state: Path,
    queue: str,
    body: dict,
    error: str,
    attributes: dict | None = None,
    deliveries: int = 3,
) -> str:
    """A message that failed `deliveries` times and was dead-lettered, as the dev server leaves it."""
    db = Store.at(state)
    [message_id] = db.send(
        queue, [OutgoingMessage(body=json.dumps(body).encode(), attributes=attributes or {})]
    )
    for n in range(deliveries):
        [msg] = db.receive(queue, owner="test")
        if n < deliveries - 1:
            db.release(msg.id, msg.lease, error=error)
    db.dead_letter(msg.id, msg.lease, error=error)
    return message_id


def test_a_dead_letter_is_found_read_and_redriven_from_the_command_line(dlq, state):
    message_id = dead_letter(
        state,
        "jobs",
        {"id": "j1", "fail": True},
        "RuntimeError: job j1 asked to fail",
        {"type": "job"},
    )
    listed = dlq("list")
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line.split()[1:] for line in listed.stdout.splitlines()[1:]}
    assert listed.stdout.splitlines()[0].split() == [
        "QUEUE",
        "DEAD",
        "LETTERS",
        "WAITING",
        "CONSUMER",
    ]
    assert rows["jobs"] == ["1", "0", "worker"]
    assert rows["events~audit"] == ["0", "0", "audit"] and rows["events~firehose"] == [
        "0",
        "0",
        "firehose",
    ]

    one = dlq("list", "jobs")
    assert (
        one.returncode == 0
        and one.stdout.splitlines()[0] == "jobs-dlq: 1 dead letter, oldest first"
    )
    assert message_id in one.stdout and "RuntimeError: job j1 asked to fail" in one.stdout

    shown = dlq("show", "jobs", message_id)
    assert shown.returncode == 0, shown.stderr
    assert f"dead letter {message_id} in jobs-dlq (from jobs)" in shown.stdout
    assert (
        "attempts:   3" in shown.stdout
        and "type: job" in shown.stdout
        and '"fail": true' in shown.stdout
    )
    as_json = json.loads(dlq("show", "jobs", message_id, "--json").stdout)
    assert as_json["json"] == {"id": "j1", "fail": True} and as_json["attempts"] == 3

    redriven = dlq("redrive", "jobs", message_id)
    assert (
        redriven.returncode == 0
        and redriven.stdout.strip() == "redrove 1 message from jobs-dlq to jobs"
    )
    [back] = Store.at(state).peek("jobs")
    assert back.id == message_id and back.receive_count == 0
    assert dlq("list", "jobs").stdout.strip() == "jobs-dlq: no dead letters"


def test_redrive_all_and_purge(dlq, state):
    for n in range(3):
        dead_letter(state, "events~audit", {"n": n}, "boom")
    assert dlq("redrive", "events~audit", "--all").stdout.strip() == (
        "redrove 3 messages from events~audit-dlq to events~audit"
    )
    for n in range(2):
        dead_letter(state, "jobs", {"n": n}, "boom")
    assert dlq("purge", "jobs-dlq").stdout.strip() == "purged 2 dead letters from jobs-dlq"
    assert Store.at(state).count("jobs-dlq") == 0 and Store.at(state).count("events~audit") == 3


@pytest.mark.parametrize(
    "args, code, expected",
    [
        (
            ("list", "nope"),
            1,
            "omnicloud dlq: no queue 'nope' in app 'devtest'; its queues are: jobs, events~audit, events~firehose",
        ),
        (
            ("show", "jobs", "missing-id"),
            1,
            "omnicloud dlq: no dead letter 'missing-id' in jobs-dlq; list them with `omnicloud dlq list jobs`",
        ),
        (
            ("redrive", "jobs", "missing-id"),
            1,
            "omnicloud dlq: no dead letter 'missing-id' in jobs-dlq; list them with `omnicloud dlq list jobs`",
        ),
        (
            ("redrive", "jobs"),
            2,
            "omnicloud dlq: name one MESSAGE_ID to redrive, or pass --all (not both)",
        ),
        (
            ("purge", "nope"),
            1,
            "omnicloud dlq: no queue 'nope' in app 'devtest'; its queues are: jobs, events~audit, events~firehose",
        ),
    ],
)
def test_a_missing_queue_or_message_is_one_line(dlq, state, args, code, expected):
    dead_letter(state, "jobs", {"n": 1}, "boom")
    result = dlq(*args)
    assert (result.returncode, result.stderr, result.stdout) == (code, expected + "\n", "")


def test_no_state_yet_is_one_line(app, tmp_path, capsys):
    code = main(["dlq", "list", "--app", str(app), "--state", str(tmp_path / "nothing-here")])
    result = Result(code, *capsys.readouterr())
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "no local state in" in result.stderr and "run `omnicloud dev` first" in result.stderr
    assert not (tmp_path / "nothing-here").exists()  # looking does not create it
