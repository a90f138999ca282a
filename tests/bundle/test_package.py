"""`omnicloud package`: deterministic, per-function, loadable artifacts on every cloud."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from omnicloud.bundle import PackageError, build_artifacts
from omnicloud.cli import main
from spec import load_app

SAMPLE = Path(__file__).parent / "sample"
ROOT = Path(__file__).resolve().parents[2]
CLOUDS = ("aws", "azure", "gcp")


def _checkout(tmp: Path, name: str) -> Path:
    """A copy of the sample app at a different path, with shuffled file mtimes."""
    target = tmp / name / "deep" / "checkout"
    shutil.copytree(SAMPLE, target)
    rng = random.Random(name)
    for path in target.rglob("*"):
        stamp = rng.randint(1_000_000_000, 1_900_000_000)
        os.utime(path, (stamp, stamp))
        if path.is_file():
            path.chmod(rng.choice([0o600, 0o644, 0o664, 0o755]))
    return target


def _build(app_dir: Path, cloud: str, **kwargs):
    """Build into a directory of this checkout's own (tests never build into a shared place)."""
    return build_artifacts(load_app(app_dir / "app.yaml"), app_dir, cloud, app_dir.parent / "build" / cloud,
                           progress=None, **kwargs)


@pytest.fixture(scope="module")
def two_checkouts(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("checkouts")
    return _checkout(tmp, "first"), _checkout(tmp, "second")


@pytest.mark.parametrize("cloud", CLOUDS)
def test_two_checkouts_give_identical_artifacts(two_checkouts, cloud):
    first, second = two_checkouts
    a = _build(first, cloud)
    b = _build(second, cloud)
    assert set(a) == {"web", "jobs", "tick"}
    assert {n: x.sha256 for n, x in a.items()} == {n: x.sha256 for n, x in b.items()}
    # And the bytes are really the same file content, not just the same digest by accident.
    assert a["web"].path.read_bytes() == b["web"].path.read_bytes()


@pytest.mark.parametrize("cloud", CLOUDS)
def test_rebuild_of_unchanged_tree_reproduces_hashes_even_from_scratch(tmp_path, cloud):
    app = _checkout(tmp_path, "again")
    first = {n: a.sha256 for n, a in _build(app, cloud).items()}
    shutil.rmtree(app.parent / "build")
    assert {n: a.sha256 for n, a in _build(app, cloud).items()} == first


def test_zip_entries_are_normalised(two_checkouts):
    artifact = _build(two_checkouts[0], "aws")["web"]
    with zipfile.ZipFile(artifact.path) as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {(i.external_attr >> 16) & 0o777 for i in infos if not i.filename.endswith(".so")} == {0o644}
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_only_the_handlers_own_modules_and_no_ignored_files(two_checkouts):
    artifacts = _build(two_checkouts[0], "gcp")
    with zipfile.ZipFile(artifacts["web"].path) as zf:
        web = set(zf.namelist())
    with zipfile.ZipFile(artifacts["tick"].path) as zf:
        tick = set(zf.namelist())
    assert {"shop/web.py", "shop/common.py", "shop/__init__.py", "shop/templates/page.html"} <= web
    assert "shop/jobs.py" not in web and "shop/common.py" not in tick
    for names in (web, tick):
        assert not any(n.startswith(("tests/", "shop/scratch/")) or n.endswith(".log") for n in names)
        assert "runtime/adapters/aws.py" not in names and "runtime/backends/azure.py" not in names


def test_changing_one_module_changes_only_that_functions_hash(tmp_path):
    app = _checkout(tmp_path, "edit")
    before = {n: a.sha256 for n, a in _build(app, "aws").items()}
    tick = app / "shop" / "tick.py"
    tick.write_text(tick.read_text() + "\n# changed\n")
    after = {n: a.sha256 for n, a in _build(app, "aws").items()}
    assert after["tick"] != before["tick"]
    assert after["web"] == before["web"] and after["jobs"] == before["jobs"]
    common = app / "shop" / "common.py"
    common.write_text(common.read_text() + "\n# shared change\n")
    shared = {n: a.sha256 for n, a in _build(app, "aws").items()}
    assert shared["web"] != after["web"] and shared["jobs"] != after["jobs"] and shared["tick"] == after["tick"]


def test_lambda_provided_packages_are_left_out_unless_pinned(tmp_path):
    app = _checkout(tmp_path, "pins")
    (app / "shop" / "requirements.txt").write_text("PyJWT==2.15.1\nsix==1.17.0\n")
    with zipfile.ZipFile(_build(app, "aws")["web"].path) as zf:
        names = zf.namelist()
    assert "jwt/__init__.py" in names
    assert "six.py" in names  # pinned by the app, so shipped


def test_manifest_lists_every_artifact_with_hash_and_size(tmp_path, capsys):
    app = _checkout(tmp_path, "manifest")
    out = tmp_path / "out"
    assert main(["package", "--cloud", "gcp", "--app", str(app / "app.yaml"), "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["cloud"] == "gcp"
    assert set(manifest["artifacts"]) == {"web", "jobs", "tick"}
    for entry in manifest["artifacts"].values():
        data = (out / entry["path"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["bytes"] == len(data)
        with zipfile.ZipFile(out / entry["path"]) as zf:
            assert entry["files"] == len(zf.namelist())


def test_size_limit_names_the_largest_contributors(tmp_path, monkeypatch):
    import omnicloud.bundle as bundle

    app = _checkout(tmp_path, "big")
    (app / "shop" / "blob.bin").write_bytes(os.urandom(300_000))
    monkeypatch.setitem(bundle.SIZE_LIMITS, "gcp", (200_000, 10**9))
    with pytest.raises(PackageError) as err:
        _build(app, "gcp")
    assert "over" in str(err.value) and "shop" in str(err.value) and "\n" not in str(err.value)


def test_package_reports_a_broken_spec_in_one_line(tmp_path, capsys):
    bad = tmp_path / "app.yaml"
    bad.write_text("name: shop\nfunctions: {a: {handler: nope}}\n")
    assert main(["package", "--cloud", "aws", "--app", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"{bad}:2:")


def _api_gateway_event(path: str) -> dict:
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {"host": "example.execute-api.us-east-1.amazonaws.com", "accept": "application/json"},
        "requestContext": {"accountId": "123456789012", "apiId": "example", "domainName": "example.execute-api.us-east-1.amazonaws.com",
                           "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "curl"},
                           "requestId": "id-1", "routeKey": "$default", "stage": "$default", "time": "21/Nov/2026:00:00:00 +0000",
                           "timeEpoch": 1795000000000},
        "isBase64Encoded": False,
    }


def test_x86_64_aws_artifact_answers_api_gateway_in_a_bare_interpreter(tmp_path):
    """Unzipped alone, with only boto3 beside it (as Lambda provides), the artifact loads and answers."""
    app = _checkout(tmp_path, "lambda")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    artifact = _build(app, "aws", architecture="x86_64", python_version=version)["web"]
    task = tmp_path / "task"
    with zipfile.ZipFile(artifact.path) as zf:
        zf.extractall(task)
    provided = tmp_path / "lambda-runtime"
    provided.mkdir()
    import boto3
    import botocore

    for module in (boto3, botocore):
        os.symlink(Path(module.__file__).parent, provided / module.__name__)
    event = json.dumps(_api_gateway_event("/hello/ada"))
    code = (
        "import sys, json\n"
        f"sys.path[:0] = [{str(task)!r}, {str(provided)!r}]\n"
        "import omnicloud_entry\n"
        f"print(json.dumps(omnicloud_entry.handler(json.loads({event!r}), None)))\n"
    )
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={"PATH": os.environ.get("PATH", ""), "OMNICLOUD_FUNCTION": "web"})
    assert proc.returncode == 0, proc.stderr
    response = json.loads(proc.stdout.strip().splitlines()[-1])
    assert response["statusCode"] == 200
    body = json.loads(base64.b64decode(response["body"]) if response.get("isBase64Encoded") else response["body"])
    assert body["message"] == "hello ada"
    assert body["token"].count(".") == 2  # signed by the vendored PyJWT


def test_azure_artifact_registers_its_trigger_under_azure_functions(tmp_path):
    app = _checkout(tmp_path, "azure")
    artifacts = _build(app, "azure")
    expected = {"web": "httpTrigger", "jobs": "serviceBusTrigger", "tick": "timerTrigger"}
    for name, trigger in expected.items():
        target = tmp_path / f"unzipped-{name}"
        with zipfile.ZipFile(artifacts[name].path) as zf:
            zf.extractall(target)
            assert {"function_app.py", "host.json", "requirements.txt"} <= set(zf.namelist())
            assert "azure-functions==" in zf.read("requirements.txt").decode()
            assert any(n.startswith(".python_packages/lib/site-packages/jwt/") for n in zf.namelist())
        code = (
            "import importlib.util, json, sys\n"
            f"sys.path.insert(0, {str(target)!r})\n"
            f"spec = importlib.util.spec_from_file_location('function_app', {str(target / 'function_app.py')!r})\n"
            "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
            "fns = module.app.get_functions()\n"
            "print(json.dumps([[b.type for b in f.get_bindings()] for f in fns]))\n"
        )
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        bindings = json.loads(proc.stdout.strip().splitlines()[-1])
        assert len(bindings) == 1 and trigger in bindings[0], bindings


def test_gcp_artifact_serves_a_request_under_functions_framework(tmp_path):
    app = _checkout(tmp_path, "gcp")
    artifact = _build(app, "gcp")["web"]
    target = tmp_path / "unzipped"
    with zipfile.ZipFile(artifact.path) as zf:
        zf.extractall(target)
        assert "functions-framework==" in zf.read("requirements.txt").decode()
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(target)!r})\n"
        "from functions_framework import create_app\n"
        f"client = create_app('handle', {str(target / 'main.py')!r}).test_client()\n"
        "r = client.get('/hello/grace')\n"
        "print(json.dumps({'status': r.status_code, 'body': r.get_json()}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "OMNICLOUD_FUNCTION": "web", "OMNICLOUD_TRIGGER": "http"})
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["status"] == 200 and result["body"]["message"] == "hello grace"


@pytest.mark.parametrize(
    "line",
    [
        f"-e {ROOT}[aws,azure,gcp]",  # what `omnicloud init` writes from an editable checkout
        "omnicloud[aws,azure,gcp] @ file:///tmp/dist/omnicloud-0.1.0-py3-none-any.whl",  # from a wheel
        "omnicloud[aws]==0.1.0  # from an index",
    ],
    ids=["editable-checkout", "wheel", "index"],
)
def test_a_requirements_line_for_omnicloud_itself_is_left_out_of_every_artifact(tmp_path, line):
    """The project's requirements.txt names omnicloud for its CLI and Pulumi program; artifacts get
    runtime/ once, from the omnicloud that builds them, and never omnicloud's own dependencies."""
    app = _checkout(tmp_path, "project")
    (app / "shop" / "requirements.txt").write_text(f"# the project's tools\n{line}\nPyJWT==2.15.1\n")
    with zipfile.ZipFile(_build(app, "aws")["web"].path) as zf:
        names = zf.namelist()
    assert names.count("runtime/__init__.py") == 1 and "runtime/adapters/aws.py" in names
    assert "jwt/__init__.py" in names
    assert not any(n.startswith(("omnicloud/", "omnicloud-", "pulumi/", "pulumi-", "spec/", "providers/"))
                   for n in names), names
    with zipfile.ZipFile(_build(app, "gcp")["web"].path) as zf:
        listed = zf.read("requirements.txt").decode()
    assert "omnicloud" not in listed and "PyJWT==2.15.1" in listed.splitlines()
