"""The corpus of broken app.yaml files: each must fail `omnicloud validate` with exactly its lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnicloud.cli import main

CORPUS = Path(__file__).parent / "broken"
CASES = sorted(p.name for p in CORPUS.glob("*.yaml"))


def _expectations(path: Path) -> tuple[list[str], list[str]]:
    expected, args = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# expect: "):
            expected.append(line.removeprefix("# expect: "))
        elif line.startswith("# cloud: "):
            args = ["--cloud", line.removeprefix("# cloud: ").strip()]
    return expected, args


def test_corpus_is_not_empty():
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES)
def test_broken_app_yaml(case, monkeypatch, capsys):
    expected, args = _expectations(CORPUS / case)
    assert expected, f"{case} has no `# expect:` lines"
    monkeypatch.chdir(CORPUS)
    code = main(["validate", "--app", case, *args])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.splitlines() == expected
