"""`omnicloud schema`: a Draft 2020-12 JSON Schema that editors can check app.yaml against."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from omnicloud.cli import main

ROOT = Path(__file__).resolve().parents[2]
APPS = [ROOT / "app.yaml", *sorted((ROOT / "examples").glob("*/app.yaml"))]


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads((ROOT / "app.schema.json").read_text())


@pytest.fixture(scope="module")
def validator(schema) -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_committed_schema_is_current(capsys):
    assert main(["schema"]) == 0
    printed = capsys.readouterr().out
    assert printed == (ROOT / "app.schema.json").read_text(), "regenerate: omnicloud schema > app.schema.json"
    assert json.loads(printed)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_app_yaml_points_editors_at_the_schema():
    assert "# yaml-language-server: $schema=./app.schema.json" in (ROOT / "app.yaml").read_text()


@pytest.mark.parametrize("app", APPS, ids=lambda p: p.parent.name or "root")
def test_valid_apps_pass(validator, app):
    assert [e.message for e in validator.iter_errors(yaml.safe_load(app.read_text()))] == []


BASE = {"name": "shop", "functions": {"api": {"handler": "app.api:app", "http": "/"}}}


def _with(**functions) -> dict:
    return {**BASE, "functions": {**BASE["functions"], **functions}, "queues": {"jobs": None}, "topics": {"events": {}}}


@pytest.mark.parametrize(
    "doc",
    [
        _with(worker={"handler": "a:b", "queue": "jobs"}),
        _with(worker={"handler": "a:b", "queue": {"name": "jobs", "batch_size": 10}}),
        _with(sub={"handler": "a:b", "topic": "events"}),
        _with(sub={"handler": "a:b", "topic": {"name": "events", "filter": {"type": ["a", "b"], "source": "x"}}}),
        {**BASE, "x-defaults": {"memory": 512}},
    ],
    ids=["queue-short", "queue-long", "topic-short", "topic-long", "x-anchor-key"],
)
def test_short_and_long_forms_pass(validator, doc):
    assert [e.message for e in validator.iter_errors(doc)] == []


@pytest.mark.parametrize(
    "doc",
    [
        {"name": "shop", "functions": []},
        {"name": "Shop", "functions": BASE["functions"]},
        {**BASE, "functions": {"Api": {"handler": "a:b", "http": "/"}}},
        {**BASE, "functions": {"api": {"handler": "a:b"}}},
        {**BASE, "functions": {"api": {"handler": "a:b", "http": "/", "schedule": "every 5 minutes"}}},
        {**BASE, "functions": {"api": {"handler": "a:b", "queue": 5}}},
        {**BASE, "functions": {"api": {"handler": "a:b", "http": "/", "links": {"x": "read"}}}},
        {**BASE, "functions": {"api": {"handler": "a:b", "http": "/", "memroy": 512}}},
        {**BASE, "functions": {"api": {"handler": "a:b", "topic": {"name": "e", "filter": {"t": 5}}}}},
        {**BASE, "queues": {"jobs": {"visibility_timeout": 0}}},
        {**BASE, "extra": 1},
    ],
    ids=["functions-list", "upper-app", "upper-function", "no-trigger", "two-triggers", "queue-number",
         "links-not-list", "unknown-field", "filter-number", "visibility-zero", "unknown-top"],
)
def test_broken_documents_fail(validator, doc):
    assert list(validator.iter_errors(doc)), "the schema accepted a document validate rejects"
