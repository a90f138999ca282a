"""Every Google Cloud artifact of the sample app and of every examples/ app, run as Cloud Functions runs it.

Clean room (tests/bundle/cleanroom): Python 3.12 as the python312 runtime (providers/gcp.py),
`python -I -S`, sys.path = the unpacked zip plus a site directory holding exactly what
`pip install --target` makes of the zip's requirements.txt (what Cloud Build installs), never
the project's venv. `main.py` is served by functions-framework (from that install) and called
with HTTP requests, Pub/Sub push requests and Cloud Scheduler calls. Firestore and Pub/Sub are the
Google emulators; Secret Manager has none, so its real client is built and only its network call
is answered by a fake (see cleanroom_driver.py).
"""

from __future__ import annotations

import pytest

from tests.bundle.cleanroom import GcpWorld, Provided, build, run_app
from tests.bundle.cleanroom.scenarios import AGENTS, APPS

pytestmark = [pytest.mark.cleanroom, pytest.mark.emulator]


@pytest.fixture(scope="module")
def cloud_functions(pytestconfig: pytest.Config) -> Provided:
    return Provided.of("gcp", pytestconfig)


@pytest.mark.parametrize("scenario", APPS, ids=[s.name for s in APPS])
def test_every_function_runs_from_its_artifact_on_cloud_functions(
    scenario, cloud_functions, google_emulators, tmp_path, monkeypatch
):
    reports = run_app(
        cloud_functions, GcpWorld(google_emulators, tmp_path), scenario, tmp_path, monkeypatch
    )
    assert list(reports) == list(scenario.steps)


def test_gcp_clean_room_fails_when_the_artifact_lacks_a_dependency(
    cloud_functions, google_emulators, tmp_path, monkeypatch
):
    unpacked = build(AGENTS.app_dir, "gcp", tmp_path)
    requirements = unpacked["api"] / "requirements.txt"
    kept = [
        ln
        for ln in requirements.read_text().splitlines()
        if not ln.startswith("google-cloud-firestore==")
    ]
    assert len(kept) == len(requirements.read_text().splitlines()) - 1
    requirements.write_text("\n".join(kept) + "\n")
    with pytest.raises(
        AssertionError,
        match="cannot import name 'firestore'|No module named 'google.cloud.firestore'",
    ):
        run_app(
            cloud_functions,
            GcpWorld(google_emulators, tmp_path),
            AGENTS,
            tmp_path,
            monkeypatch,
            unpacked,
            only=["api"],
        )
