"""Cold start: importing an adapter (or the runtime) imports no cloud SDK, no flask.

Each check runs in a fresh interpreter (`python -I`, the project on sys.path) and compares
sys.modules with what that interpreter had before the import: the venv's functions-framework
.pth file pre-imports the bare `google` / `google.cloud` namespace packages at start-up.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT

FORBIDDEN = ("boto3", "botocore", "azure", "google", "flask", "werkzeug", "functions_framework")

PROBE = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {root!r})
    before = set(sys.modules)
    {code}
    after = set(sys.modules)
    print(json.dumps({{"new": sorted(after - before),
                       "present": sorted(m for m in after if m.split(".")[0] in {forbidden!r})}}))
""")


def _import_in_fresh_interpreter(code: str) -> dict[str, list[str]]:
    script = PROBE.format(root=str(ROOT), code=code, forbidden=FORBIDDEN)
    result = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, timeout=60,
                            cwd=str(ROOT))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _forbidden(modules: list[str]) -> list[str]:
    return [m for m in modules if m.split(".")[0] in FORBIDDEN]


@pytest.mark.parametrize("module", [
    "runtime", "runtime.adapters.base", "runtime.adapters.aws", "runtime.adapters.azure",
    "runtime.adapters.gcp", "runtime.adapters.local", "runtime.adapters.azure_templates",
])
def test_importing_an_adapter_imports_no_cloud_sdk(module):
    report = _import_in_fresh_interpreter(f"import {module}")
    assert module in report["new"]
    assert _forbidden(report["new"]) == []
    for sdk in ("boto3", "botocore", "azure.functions", "google.cloud.pubsub", "google.auth", "google.api_core", "flask"):
        assert sdk not in report["present"]


def test_an_aws_invocation_still_imports_no_cloud_sdk():
    # The handler runs end to end (HTTP and SQS); clients would import their SDK only on first use.
    code = textwrap.dedent("""
        from runtime.adapters.aws import make_handler
        from tests.events import load
        make_handler("tests.runtime.handlers_sample:app", "http")(load("aws", "apigw_v2_get"), None)
        make_handler("tests.runtime.handlers_sample:on_message", "queue")(load("aws", "sqs"), None)
    """)
    assert _forbidden(_import_in_fresh_interpreter(code)["new"]) == []


def test_the_probe_does_see_an_sdk_import():
    # Guards the check above against passing vacuously.
    report = _import_in_fresh_interpreter("import azure.functions")
    assert "azure.functions" in _forbidden(report["new"])
