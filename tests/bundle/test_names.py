"""Resource names in code (omnicloud/bundle/names.py): `validate` and `package` refuse a literal
name a function uses without being linked to it, however the client was imported, and whichever
registered kind the client belongs to. tests/spec/broken/code_names_unlinked.yaml pins the messages."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from omnicloud import registry as registry_module
from omnicloud.bundle.names import name_problems, uses_by_function
from omnicloud.cli import main
from omnicloud.registry import Kind, builtin
from spec import load_app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p.parent for p in (ROOT / "examples").glob("*/app.yaml"))


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root / "app.yaml"


def used(app_yaml: Path) -> dict[str, set[tuple[str, str, str]]]:
    """function -> {(file, kind, name)} the scanner found."""
    found = uses_by_function(load_app(app_yaml), app_yaml.parent)
    return {fname: {(rel, u.kind, u.name) for rel, u in uses} for fname, uses in found.items()}


def test_every_example_names_only_what_its_functions_link(capsys):
    assert len(EXAMPLES) >= 3
    for example in EXAMPLES:
        app = load_app(example / "app.yaml")
        assert name_problems(app, example) == [], example.name
    # The scanner does see them: the storefront's API builds these three clients by literal name.
    storefront = used(ROOT / "examples" / "storefront" / "app.yaml")
    assert {(kind, name) for _, kind, name in storefront["api-v1"]} >= {
        ("table", "products"),
        ("table", "orders"),
        ("topic", "order-placed"),
    }


def test_every_way_of_naming_a_client_is_recognised(tmp_path):
    app_yaml = write(
        tmp_path,
        {
            "app.yaml": """\
            name: shop
            functions:
              api: {handler: shop.api:app, http: /}
            tables: {orders: {}}
            queues: {jobs: {}}
            topics: {events: {}}
            secrets: {token: {}}
            """,
            "shop/__init__.py": "",
            "shop/api.py": """\
            import runtime
            import runtime.clients
            import runtime.clients as rc

            from .helpers import Q

            app = runtime.Router()
            orders = runtime.Table("orders")
            events = runtime.clients.Topic("events")
            token = rc.Secret(name="token", ttl=60)
            jobs = Q("jobs")


            def later():
                from runtime import Table as T

                return T("late"), T(f"{'dynamic'}"), T(*["spread"]), rc.Table(NAME)


            NAME = "computed"
            """,
            "shop/helpers.py": "from runtime.clients import Queue as Q\n",
        },
    )
    assert used(app_yaml)["api"] == {
        ("shop/api.py", "table", "orders"),
        ("shop/api.py", "topic", "events"),
        ("shop/api.py", "secret", "token"),
        ("shop/api.py", "queue", "jobs"),
        ("shop/api.py", "table", "late"),
    }
    messages = [p.message for p in name_problems(load_app(app_yaml), tmp_path)]
    assert len(messages) == 5 and all("but is not linked to it" in m for m in messages)


def test_a_shared_module_is_checked_for_each_function_that_imports_it(tmp_path):
    app_yaml = write(
        tmp_path,
        {
            "app.yaml": """\
            name: shop
            functions:
              api: {handler: shop.api:app, http: /, links: {orders: [read], jobs: [send]}}
              report: {handler: shop.report:run, schedule: every 1 hours, links: {orders: [read]}}
              mailer: {handler: shop.mailer:send, queue: jobs, links: {outbox: [write]}}
            tables: {orders: {}, outbox: {}}
            queues: {jobs: {}}
            """,
            "shop/__init__.py": "",
            # Each handler module's clients, and one misspelt name both of its importers lack.
            "shop/db.py": "from runtime import Queue, Table\n\norders = Table('ordrs')\njobs = Queue('jobs')\n",
            "shop/api.py": "from runtime import Router\n\nfrom . import db\n\napp = Router()\n",
            "shop/report.py": "from .db import orders\n\n\ndef run(event):\n    orders.get('x')\n",
            "shop/mailer.py": "from runtime import Table\n\noutbox = Table('outbox')\n\n\ndef send(message):\n    pass\n",
        },
    )
    assert [str(p) for p in name_problems(load_app(app_yaml), tmp_path)] == [
        "shop/db.py:3:16: function 'api' uses table 'ordrs' but is not linked to it; did you mean 'orders'?"
        " (add it under functions.api.links in app.yaml)",
        "shop/db.py:3:16: function 'report' uses table 'ordrs' but is not linked to it; did you mean 'orders'?"
        " (add it under functions.report.links in app.yaml)",
    ]
    # report imports db.py for `orders` only: the queue there is api's, which shares the module.
    assert ("shop/db.py", "queue", "jobs") in used(app_yaml)["report"]


def test_a_kind_a_package_registers_is_checked_through_its_client(tmp_path, monkeypatch):
    class BucketSpec(BaseModel):
        model_config = ConfigDict(extra="forbid")

    kinds = builtin()
    kinds.register_kind(
        Kind(
            name="bucket",
            model=BucketSpec,
            section="buckets",
            verbs=("read", "write"),
            client="acme_omnicloud.client:Bucket",
        )
    )
    monkeypatch.setattr(registry_module, "registry", lambda: kinds)
    app_yaml = write(
        tmp_path,
        {
            "app.yaml": """\
            name: shop
            functions:
              api: {handler: shop:app, http: /, links: {uploads: [read]}}
            buckets: {uploads: {}}
            """,
            "shop.py": """\
            from acme_omnicloud.client import Bucket

            from runtime import Router

            app = Router()
            uploads = Bucket("uplods")
            """,
        },
    )
    assert [str(p) for p in name_problems(load_app(app_yaml), tmp_path)] == [
        "shop.py:6:18: function 'api' uses bucket 'uplods' but is not linked to it; did you mean"
        " 'uploads'? (add it under functions.api.links in app.yaml)"
    ]


@pytest.mark.parametrize("command", ["validate", "package"])
def test_validate_and_package_refuse_an_unlinked_name_in_one_line(
    tmp_path, monkeypatch, capsys, command
):
    write(
        tmp_path,
        {
            "app.yaml": """\
            name: shop
            functions:
              api: {handler: api:app, http: /, links: {order-events: [publish]}}
            topics: {order-events: {}}
            """,
            "api.py": "from runtime import Router, Topic\n\napp = Router()\nevents = Topic('order-event')\n",
        },
    )
    monkeypatch.chdir(tmp_path)
    extra = ["--cloud", "aws", "--out", str(tmp_path / "out")] if command == "package" else []
    assert main([command, *extra]) == 2
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        "api.py:4:16: function 'api' uses topic 'order-event' but is not linked to it; did you mean"
        " 'order-events'? (add it under functions.api.links in app.yaml)"
    ]
    assert not (tmp_path / "out").exists()
