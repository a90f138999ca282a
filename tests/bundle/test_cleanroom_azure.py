"""Every Azure artifact of the sample app and of every examples/ app, run as the Functions host runs it.

Clean room (tests/bundle/cleanroom): Python 3.11, the Function App's runtime (providers/azure.py),
`python -I -S`, sys.path = the unpacked zip, its `.python_packages/lib/site-packages` and the
host's azure-functions, never the project's venv. `function_app.py` is imported and indexed
through the real azure-functions library, and its one function is called with the library's own
HttpRequest, ServiceBusMessage (from the host's trigger metadata) and TimerRequest. Tables are
Azurite; Service Bus and Key Vault have no emulator, so their real SDK clients are built from the
link environment and only their network calls are answered by fakes (see cleanroom_driver.py).
"""

from __future__ import annotations

import shutil

import pytest

from tests.bundle.cleanroom import AzureWorld, Provided, build, run_app
from tests.bundle.cleanroom.scenarios import AGENTS, APPS

pytestmark = [pytest.mark.cleanroom, pytest.mark.emulator]


@pytest.fixture(scope="module")
def functions_host(pytestconfig: pytest.Config) -> Provided:
    return Provided.of("azure", pytestconfig)


@pytest.mark.parametrize("scenario", APPS, ids=[s.name for s in APPS])
def test_every_function_runs_from_its_artifact_on_azure_functions(
    scenario, functions_host, azurite_tables, tmp_path, monkeypatch
):
    reports = run_app(functions_host, AzureWorld(azurite_tables), scenario, tmp_path, monkeypatch)
    assert list(reports) == list(scenario.steps)
    for name, report in reports.items():
        for read in report["secrets"]:  # Key Vault reads went to the vault the link names
            assert read["vault_url"].rstrip("/") == AzureWorld.vault_url.rstrip("/"), (name, read)


def test_azure_clean_room_fails_when_the_artifact_lacks_a_dependency(
    functions_host, azurite_tables, tmp_path, monkeypatch
):
    unpacked = build(AGENTS.app_dir, "azure", tmp_path)
    shutil.rmtree(unpacked["api"] / ".python_packages" / "lib" / "site-packages" / "azure" / "data")
    with pytest.raises(AssertionError, match="No module named 'azure.data'"):
        run_app(
            functions_host,
            AzureWorld(azurite_tables),
            AGENTS,
            tmp_path,
            monkeypatch,
            unpacked,
            only=["api"],
        )
