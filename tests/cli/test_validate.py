"""`omnicloud validate`: one line per problem for any bad file, one "valid" line for a good one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from omnicloud.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*/app.yaml"))

GOOD = """\
name: shop
functions:
  api:
    handler: handlers:app
    http: /
"""


def run(capsys, *args: str) -> tuple[int, list[str], list[str]]:
    code = main(["validate", *args])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


@pytest.fixture
def app_dir(tmp_path, monkeypatch):
    (tmp_path / "handlers.py").write_text("app = object()\n\ndef handle(message):\n    return None\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_valid_app_prints_one_line_on_stdout(app_dir, capsys):
    (app_dir / "app.yaml").write_text(GOOD)
    assert run(capsys) == (0, ["app.yaml: valid for aws, azure and gcp"], [])


def test_project_app_yaml_is_valid(capsys):
    code, out, err = run(capsys, "--app", str(ROOT / "app.yaml"))
    assert code == 0, err
    assert out == [f"{ROOT / 'app.yaml'}: valid for aws, azure and gcp ({len(err)} warnings)"]


@pytest.mark.parametrize("app", EXAMPLES, ids=lambda p: p.parent.name)
def test_examples_are_valid(app, capsys):
    code, out, err = run(capsys, "--app", str(app))
    assert code == 0, "\n".join(err)
    assert len(out) == 1 and ": valid for aws, azure and gcp" in out[0]
    assert all(": warning: on " in line for line in err)


def test_there_are_several_examples():
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "app.yaml:1:1: (file): file is empty (or only comments); an app.yaml needs at least `name:` and `functions:`"),
        (b"# only a comment\n\n# and another\n",
         "app.yaml:1:1: (file): file is empty (or only comments); an app.yaml needs at least `name:` and `functions:`"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "app.yaml:1:1: (file): is a binary file, not YAML text"),
        (b"name: shop\nfunctions:\n  caf\xe9:\n", "app.yaml:3:6: (file): not UTF-8 text (byte 0xe9); save the file as UTF-8"),
        (b"name: shop\n---\nname: other\n", "app.yaml:2:1: (yaml): YAML syntax error: expected a single document in the stream but found another document"),
    ],
    ids=["empty", "comments-only", "binary", "latin-1", "two-documents"],
)
def test_unreadable_files_get_one_line(app_dir, capsys, content, expected):
    (app_dir / "app.yaml").write_bytes(content)
    assert run(capsys) == (2, [], [expected])


def test_missing_file_suggests_a_close_name(app_dir, capsys):
    (app_dir / "app.yml").write_text(GOOD)
    assert run(capsys) == (2, [], ["app.yaml:1:1: (file): file not found; did you mean 'app.yml'?"])


def test_missing_file_without_neighbours(app_dir, capsys):
    assert run(capsys, "--app", "nope.yaml") == (
        2, [], ["nope.yaml:1:1: (file): file not found; pass --app PATH to an app.yaml"])


def test_directory_points_at_its_app_yaml(app_dir, capsys):
    (app_dir / "svc").mkdir()
    (app_dir / "svc" / "app.yaml").write_text(GOOD)
    assert run(capsys, "--app", "svc") == (
        2, [], ["svc:1:1: (file): is a directory, not an app.yaml; pass 'svc/app.yaml'"])


def test_handler_syntax_error_names_file_and_line(app_dir, capsys):
    (app_dir / "handlers.py").write_text("import os\n\ndef app(request)\n    return None\n")
    (app_dir / "app.yaml").write_text(GOOD)
    assert run(capsys) == (2, [], [
        "app.yaml:4:14: functions.api.handler: handlers.py:3:17: syntax error: expected ':';"
        " fix it (the module is parsed, not run)"])


def test_handler_module_is_parsed_not_run(app_dir, capsys):
    marker = app_dir / "ran"
    (app_dir / "handlers.py").write_text(f"open({str(marker)!r}, 'w').close()\napp = None\n")
    (app_dir / "app.yaml").write_text(GOOD)
    assert run(capsys)[0] == 0
    assert not marker.exists()


def test_handler_names_bound_in_blocks_count(app_dir, capsys):
    (app_dir / "handlers.py").write_text(
        "try:\n    from fastlib import app\nexcept ImportError:\n    app = None\n")
    (app_dir / "app.yaml").write_text(GOOD)
    assert run(capsys)[0] == 0


def test_yaml_1_2_booleans_anchors_and_merge_keys(app_dir, capsys):
    (app_dir / "app.yaml").write_text("""\
name: shop
x-defaults: &defaults
  memory: 512
  env: {DEBUG: yes, REGION: no, PORT: 8080}
functions:
  on:
    <<: *defaults
    handler: handlers:app
    http: /
  off:
    <<: *defaults
    memory: 1024
    handler: handlers:handle
    queue: jobs
queues:
  jobs:
""")
    code, out, err = run(capsys, "--cloud", "aws")
    assert (code, out) == (0, ["app.yaml: valid for aws"]), err
    from spec import load_app

    spec = load_app(app_dir / "app.yaml", cloud="aws")
    assert set(spec.functions) == {"on", "off"}
    assert spec.functions["on"].env == {"DEBUG": "yes", "REGION": "no", "PORT": "8080"}
    assert (spec.functions["on"].memory, spec.functions["off"].memory) == (512, 1024)
    assert spec.queues["jobs"].visibility_timeout == 30


def test_warnings_are_printed_and_do_not_fail(app_dir, capsys):
    (app_dir / "app.yaml").write_text(GOOD.replace("    http: /\n", "    http: /\n    memory: 1000\n"))
    code, out, err = run(capsys, "--cloud", "azure")
    assert (code, out) == (0, ["app.yaml: valid for azure (1 warning)"])
    assert err == ["app.yaml:6:13: functions.api.memory: warning: on azure: memory 1000 MB becomes 2048 MB"
                   " (Azure Functions (Flex Consumption) offers 512, 2048, 4096 MB)"]


def test_subscriber_retries_below_pubsubs_minimum_warn_on_gcp_only(app_dir, capsys):
    (app_dir / "app.yaml").write_text(
        "name: shop\nfunctions:\n  audit:\n    handler: handlers:handle\n"
        "    topic: {name: events, max_retries: 1}\ntopics:\n  events: {}\n")
    assert run(capsys, "--cloud", "aws") == (0, ["app.yaml: valid for aws"], [])
    assert run(capsys, "--cloud", "azure") == (0, ["app.yaml: valid for azure"], [])
    assert run(capsys, "--cloud", "gcp") == (0, ["app.yaml: valid for gcp (1 warning)"], [
        "app.yaml:5:40: functions.audit.topic.max_retries: warning: on gcp: max_retries 1 becomes 4"
        " (Pub/Sub dead-lettering needs at least 5 delivery attempts)"])


def test_cloud_option_checks_only_that_cloud(app_dir, capsys):
    (app_dir / "app.yaml").write_text(GOOD.replace("http: /", "schedule: every 90 minutes").replace(":app", ":handle"))
    assert run(capsys, "--cloud", "aws") == (0, ["app.yaml: valid for aws"], [])
    code, _, err = run(capsys, "--cloud", "azure")
    assert code == 2 and len(err) == 1 and ": on azure: " in err[0]
    code, _, err = run(capsys)
    assert code == 2 and [line.split(": on ")[1][:5] for line in err] == ["azure", "gcp: "]


@pytest.mark.parametrize(("cloud", "hint"), [("azur", "; did you mean 'azure'?"), ("google", "; did you mean 'gcp'?"),
                                              ("ibm", "")])
def test_unknown_cloud_is_one_line(app_dir, capsys, cloud, hint):
    (app_dir / "app.yaml").write_text(GOOD)
    assert run(capsys, "--cloud", cloud) == (
        2, [], [f"omnicloud: --cloud {cloud!r} is not a cloud omnicloud deploys to; use aws, azure or gcp{hint}"])


def test_console_entry_point_never_prints_a_traceback(app_dir):
    (app_dir / "app.yaml").write_text("name: [unclosed\n")
    proc = subprocess.run([sys.executable, "-m", "omnicloud", "validate"], capture_output=True, text=True,
                          cwd=app_dir, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("app.yaml:2:1: (yaml): YAML syntax error:")
    assert "Traceback" not in proc.stderr
