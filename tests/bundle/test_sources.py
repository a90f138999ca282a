"""What the checks read from app modules (omnicloud/sources.py): each module parsed once per run,
and kept in the build cache by its content, so an unchanged module is not parsed again in a later
run, and an edited one always is."""

from __future__ import annotations

import json
import os
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from omnicloud import sources
from omnicloud.bundle import code_problems
from omnicloud.bundle.files import AppFiles, import_closure
from omnicloud.cli import main
from spec import load_app

APP = """\
name: shop
functions:
  api: {handler: shop.api:app, http: /}
  jobs: {handler: shop.jobs:run, schedule: every 5 minutes}
"""
API = "from shop import util\nimport shop.aaaa\n\n\ndef app(request):\n    return util.answer()\n"


@pytest.fixture
def app(tmp_path: Path) -> Path:
    for rel, text in {
        "app.yaml": APP,
        "shop/__init__.py": "",
        "shop/api.py": API,
        "shop/jobs.py": "from . import util\n\n\ndef run(event):\n    util.answer()\n",
        "shop/util.py": "def answer():\n    return 42\n",
        "shop/aaaa.py": "",
        "shop/bbbb.py": "import yaml\n",
    }.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(textwrap.dedent(text))
    return tmp_path


@pytest.fixture
def new_run(monkeypatch):
    """What a new process starts with: nothing parsed yet (the build cache on disk stays)."""

    def reset() -> None:
        monkeypatch.setattr(sources, "_known", {})

    reset()
    return reset


@pytest.fixture
def parses(monkeypatch) -> Counter:
    """How often each module's bytes are parsed."""
    counted: Counter = Counter()
    derive = sources.derive

    def counting(data: bytes):
        counted[data] += 1
        return derive(data)

    monkeypatch.setattr(sources, "derive", counting)
    return counted


def closure(app: Path, cache: Path) -> list[str]:
    return import_closure(AppFiles.load(app, cache), "shop.api")


def test_a_package_run_parses_each_module_once_for_every_check_and_the_build(app, tmp_path, new_run, parses,
                                                                               monkeypatch, capsys):
    monkeypatch.setenv("OMNICLOUD_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["package", "--cloud", "aws", "--app", str(app / "app.yaml"), "--out", str(tmp_path / "out")]) == 0
    # The handler check (spec), the dependency and names checks and the build all read these.
    modules = {(app / rel).read_bytes() for rel in ("shop/__init__.py", "shop/api.py", "shop/jobs.py",
                                                     "shop/util.py", "shop/aaaa.py")}
    assert set(parses) == modules and set(parses.values()) == {1}


def test_an_unchanged_module_is_not_parsed_in_a_later_run(app, tmp_path, new_run, parses):
    cache = tmp_path / "cache"
    first = closure(app, cache)
    assert "shop/api.py" in first and parses
    new_run()
    parses.clear()
    assert closure(app, cache) == first
    assert not parses


def test_an_edited_module_is_parsed_again_and_its_new_imports_are_seen(app, tmp_path, new_run, parses):
    """Even when the edit keeps the file's size and modification time: entries are found by content."""
    cache = tmp_path / "cache"
    api = app / "shop" / "api.py"
    assert "shop/bbbb.py" not in closure(app, cache)
    stat = api.stat()
    api.write_text(API.replace("shop.aaaa", "shop.bbbb"))
    os.utime(api, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert api.stat().st_size == stat.st_size
    new_run()
    parses.clear()
    assert "shop/bbbb.py" in closure(app, cache) and "shop/aaaa.py" not in closure(app, cache)
    assert parses[api.read_bytes()] == 1
    # The dependency check reads the same facts: the new module's import of yaml needs a requirement.
    problems = [str(p) for p in code_problems(load_app(app / "app.yaml"), app)]
    assert problems and all(p.startswith("shop/bbbb.py:1: imports 'yaml'") for p in problems)


@pytest.mark.parametrize("entry", [
    "not json {",
    json.dumps({"format": sources.FORMAT - 1, "imports": [], "calls": [], "top_level": [], "error": None}),
    json.dumps({"format": sources.FORMAT, "imports": [{"line": "x"}]}),
    json.dumps(["a", "list"]),
])
def test_a_corrupt_or_older_cache_entry_is_ignored_and_replaced(app, tmp_path, new_run, parses, entry):
    cache = tmp_path / "cache"
    first = closure(app, cache)
    entries = sorted((cache / "sources").glob("*.json"))
    assert len(entries) == len(parses) == 3  # api, util, and one for the two empty files (shop/, aaaa)
    for path in entries:
        path.write_text(entry)
    new_run()
    parses.clear()
    assert closure(app, cache) == first
    assert len(parses) == 3
    new_run()
    parses.clear()
    assert closure(app, cache) == first and not parses  # the entries were written again


def test_a_cache_that_cannot_be_written_costs_a_parse_not_the_build(app, tmp_path, new_run, parses):
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache directory would be")
    first = closure(app, blocked)
    new_run()
    assert closure(app, blocked) == first and set(parses.values()) == {2}


def test_a_module_that_does_not_parse_is_reported_by_line_and_not_cached_as_parsed(app, tmp_path, new_run):
    cache = tmp_path / "cache"
    (app / "shop" / "util.py").write_text("def answer(:\n")
    with pytest.raises(ValueError, match=r"^shop/util.py:1: syntax error: .*; fix it before packaging$"):
        closure(app, cache)
    new_run()
    with pytest.raises(ValueError, match=r"^shop/util.py:1: syntax error"):
        closure(app, cache)
    (app / "shop" / "util.py").write_text("def answer():\n    return 1\n")
    assert "shop/util.py" in closure(app, cache)
