"""What each cloud's artifact holds (the SDKs its links need, nothing for a function without links),
undeclared imports refused with one located line, and builds that never collide."""

from __future__ import annotations

import os
import re
import shutil
import threading
import zipfile
from pathlib import Path

import pytest

import omnicloud.bundle as bundle
from omnicloud.bundle import PackageError, build_artifacts
from omnicloud.cli import main
from spec import load_app

SAMPLE = Path(__file__).parent / "sample"
CONSTRAINTS = Path(__file__).resolve().parents[2] / "constraints.txt"
PINS = dict(re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", CONSTRAINTS.read_text(), re.MULTILINE))
SITE = ".python_packages/lib/site-packages/"


def _names(path: Path) -> set[str]:
    with zipfile.ZipFile(path) as zf:
        return set(zf.namelist())


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _dists(names: set[str], prefix: str = "") -> dict[str, str]:
    """{distribution: version} of the .dist-info directories directly under `prefix` in the zip."""
    found = {}
    for n in names:
        rest = n[len(prefix) :]
        if n.startswith(prefix) and rest.count("/") == 1 and rest.endswith(".dist-info/METADATA"):
            name, version = rest.split(".dist-info/")[0].rsplit("-", 1)
            found[_canonical(name)] = version
    return found


CANONICAL_PINS = {_canonical(k): v for k, v in PINS.items()}


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    app = tmp_path_factory.mktemp("contents") / "app"
    shutil.copytree(SAMPLE, app)
    return app


@pytest.fixture(scope="module")
def azure(sample):
    return build_artifacts(
        load_app(sample / "app.yaml"), sample, "azure", sample.parent / "azure", progress=None
    )


@pytest.fixture(scope="module")
def gcp(sample):
    return build_artifacts(
        load_app(sample / "app.yaml"), sample, "gcp", sample.parent / "gcp", progress=None
    )


def test_azure_vendors_the_sdks_of_the_linked_kinds_for_the_function_apps_python(azure):
    web = _names(azure["web"].path)  # links a table and a queue
    dists = _dists(web, SITE)
    assert {
        "azure-data-tables",
        "azure-servicebus",
        "azure-identity",
        "azure-core",
        "pyjwt",
    } <= set(dists)
    assert "azure-keyvault-secrets" not in dists  # no secret linked
    assert "azure-functions" not in dists  # the host provides it
    # Wheels for the Function App's platform: CPython 3.11 on Linux x86_64.
    natives = [n for n in web if n.startswith(SITE) and n.endswith(".so")]
    assert natives and all("cpython-311-x86_64-linux-gnu" in n or "abi3" in n for n in natives), (
        natives
    )
    for dist, version in dists.items():  # every version from constraints.txt
        assert CANONICAL_PINS[dist] == version, dist


def test_a_function_without_links_gets_no_cloud_sdk(azure, gcp):
    # jobs and tick link nothing: only the app's own requirement (PyJWT) is vendored.
    for name in ("jobs", "tick"):
        assert set(_dists(_names(azure[name].path), SITE)) == {"pyjwt"}, name
        with zipfile.ZipFile(gcp[name].path) as zf:
            requirements = zf.read("requirements.txt").decode()
        assert "google-cloud" not in requirements and "functions-framework==" in requirements, (
            requirements
        )


def test_gcp_lists_the_linked_sdks_pinned_from_constraints_and_vendors_nothing(gcp):
    names = _names(gcp["web"].path)
    assert not any(n.startswith((".python_packages/", "google/", "jwt/")) for n in names)
    with zipfile.ZipFile(gcp["web"].path) as zf:
        lines = zf.read("requirements.txt").decode().split()
    pins = dict(line.split("==") for line in lines)
    assert {"google-cloud-firestore", "google-cloud-pubsub", "functions-framework", "PyJWT"} <= set(
        pins
    )
    assert "google-cloud-secret-manager" not in pins
    for name, version in pins.items():
        assert CANONICAL_PINS.get(_canonical(name)) == version, (
            name,
            version,
        )  # transitive ones too


def test_aws_vendors_no_sdk_because_lambda_ships_boto3(tmp_path):
    app = tmp_path / "app"
    shutil.copytree(SAMPLE, app)
    artifacts = build_artifacts(
        load_app(app / "app.yaml"), app, "aws", tmp_path / "aws", progress=None
    )
    names = _names(artifacts["web"].path)
    assert not any(n.startswith(("boto3/", "botocore/")) for n in names)
    assert "jwt/__init__.py" in names


def test_omnicloudignore_keeps_matching_files_out_of_the_artifact_and_without_one_they_ship(gcp, tmp_path):
    shipped = _names(gcp["web"].path)  # the sample's .omnicloudignore: *.log and shop/scratch/
    assert "shop/debug.log" not in shipped and "shop/templates/page.html" in shipped
    app = tmp_path / "app"
    shutil.copytree(SAMPLE, app)
    (app / ".omnicloudignore").unlink()
    names = _names(build_artifacts(load_app(app / "app.yaml"), app, "gcp", tmp_path / "gcp", progress=None)["web"].path)
    assert names - shipped == {"shop/debug.log"}


# -- undeclared imports ----------------------------------------------------------------------


@pytest.fixture()
def emailer(tmp_path) -> Path:
    app = tmp_path / "app"
    shutil.copytree(SAMPLE, app)
    (app / "shop" / "emailer.py").write_text(
        '"""Sends mail."""\n\nimport yaml\n\ntry:\n    import ujson\nexcept'
        " ImportError:\n    ujson = None\n"
    )
    web = app / "shop" / "web.py"
    web.write_text(web.read_text() + "\nfrom . import emailer  # noqa: E402\n")
    return app


def test_validate_refuses_an_undeclared_import_with_one_located_line(emailer, capsys, monkeypatch):
    monkeypatch.chdir(emailer)
    assert main(["validate", "--app", "app.yaml"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "shop/emailer.py:3: imports 'yaml', which no requirements file of this app provides;"
        " add PyYAML to shop/requirements.txt"
    ]


def test_package_refuses_it_too(emailer, tmp_path, capsys):
    assert (
        main(
            [
                "package",
                "--cloud",
                "gcp",
                "--app",
                str(emailer / "app.yaml"),
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith(
        "emailer.py:3: imports 'yaml', which no requirements file of this"
        f" app provides; add PyYAML to {emailer}/shop/requirements.txt"
    )
    with pytest.raises(PackageError, match="shop/emailer.py:3: imports 'yaml'"):
        build_artifacts(
            load_app(emailer / "app.yaml"), emailer, "gcp", tmp_path / "p", progress=None
        )


def test_a_requirements_file_next_to_app_yaml_is_accepted(emailer, capsys):
    (emailer / "shop" / "requirements.txt").unlink()
    (emailer / "requirements.txt").write_text("PyJWT==2.15.1\nPyYAML==6.0.3\n")
    assert main(["validate", "--app", str(emailer / "app.yaml")]) == 0, capsys.readouterr().err


def test_the_declared_requirement_makes_it_valid(emailer, capsys):
    requirements = emailer / "shop" / "requirements.txt"
    requirements.write_text(requirements.read_text() + "PyYAML==6.0.3\n")
    assert main(["validate", "--app", str(emailer / "app.yaml")]) == 0, capsys.readouterr().err


# -- builds that never collide ---------------------------------------------------------------


def test_a_build_that_finishes_while_another_writes_the_same_zip_breaks_neither(
    tmp_path, monkeypatch
):
    """Deterministic interleaving: just before the first build moves its zip into place, a second
    build of the same app into the same directory runs to the end."""
    app = tmp_path / "app"
    shutil.copytree(SAMPLE, app)
    spec, out = load_app(app / "app.yaml"), tmp_path / "out"
    real_replace, nested, started = os.replace, [], []

    def replace(src, dst):
        if str(dst).endswith(".zip") and not started:
            started.append(True)
            nested.append(build_artifacts(spec, app, "gcp", out, progress=None))
        return real_replace(src, dst)

    monkeypatch.setattr(bundle.os, "replace", replace)
    first = build_artifacts(spec, app, "gcp", out, progress=None)
    assert nested and {n: a.sha256 for n, a in first.items()} == {
        n: a.sha256 for n, a in nested[0].items()
    }
    for artifact in first.values():
        with zipfile.ZipFile(artifact.path) as zf:
            assert zf.testzip() is None
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_concurrent_package_commands_into_one_directory_all_succeed(tmp_path):
    app = tmp_path / "app"
    shutil.copytree(SAMPLE, app)
    out = tmp_path / "out"
    codes: list[int] = []

    def package() -> None:
        codes.append(
            main(["package", "--cloud", "azure", "--app", str(app / "app.yaml"), "--out", str(out)])
        )

    threads = [threading.Thread(target=package) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes == [0, 0, 0]
    from omnicloud.package_stamp import STAMP

    assert sorted(p.name for p in out.iterdir() if not p.name.endswith(".inputs") and p.name != STAMP) == [
        "jobs.zip",
        "manifest.json",
        "tick.zip",
        "web.zip",
    ]


def test_tests_never_build_into_the_checkout():
    assert (
        os.environ["OMNICLOUD_BUILD_DIR"] and ".omnicloud" not in os.environ["OMNICLOUD_BUILD_DIR"]
    )
    assert (
        bundle.build_dir(Path("/somewhere"), "aws")
        == Path(os.environ["OMNICLOUD_BUILD_DIR"]) / "aws"
    )
