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
    # The vendored tree (compressed once, in its site zip) comes first, then the function's own files;
    # each part in name order.
    vendored = [n for n in names if n.split("/")[0] == "jwt" or n.split("/")[0].endswith(".dist-info")]
    assert names[: len(vendored)] == vendored == sorted(vendored) and vendored
    assert names[len(vendored) :] == sorted(names[len(vendored) :])
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {(i.external_attr >> 16) & 0o777 for i in infos if not i.filename.endswith(".so")} == {0o644}


def test_artifacts_carry_bytecode_for_the_clouds_python_and_the_manifest_says_which(tmp_path):
    from omnicloud.bundle import PYTHON_VERSIONS
    from omnicloud.bundle.bytecode import compiler_for

    app = _checkout(tmp_path, "bytecode")
    compiler = compiler_for(PYTHON_VERSIONS["aws"], None)
    if compiler is None:
        pytest.skip(f"no Python {PYTHON_VERSIONS['aws']} on this machine to compile Lambda's bytecode")
    out = tmp_path / "out"
    assert main(["package", "--cloud", "aws", "--app", str(app / "app.yaml"), "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["python"] == {"version": "3.12", "bytecode": "cpython-312", "compiled_by": compiler.description}
    with zipfile.ZipFile(out / "web.zip") as zf:
        names = set(zf.namelist())
        pycs = {n for n in names if n.endswith(".pyc")}
        sources = {n for n in names if n.endswith(".py")}
        # One pyc per module, where the import system looks for it, and nothing else in __pycache__.
        assert pycs == {compiler.pyc_name(n) for n in sources}
        assert {n for n in names if "__pycache__" in n} == pycs
        for name in ("omnicloud_entry.py", "runtime/adapters/aws.py", "shop/web.py", "jwt/__init__.py"):
            header = zf.read(compiler.pyc_name(name))[:16]
            # PEP 552: flags 0b01, a hash-based pyc the loader does not check against its source
            # (a zip's timestamps are fixed; Lambda's code directory is read-only).
            assert int.from_bytes(header[4:8], "little") == 0b01, name


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


@pytest.mark.parametrize("cloud", ["gcp", "azure"])  # azure: zips that start from a vendored tree's
def test_manifest_lists_every_artifact_with_hash_and_size(tmp_path, capsys, cloud):
    """The build knows each zip's entries (its own and the vendored tree's), so the manifest is
    written without reading the zips again: what it says is what the zips hold."""
    app = _checkout(tmp_path, "manifest")
    out = tmp_path / "out"
    assert main(["package", "--cloud", cloud, "--app", str(app / "app.yaml"), "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["cloud"] == cloud
    assert set(manifest["artifacts"]) == {"web", "jobs", "tick"}
    tags = set()
    for entry in manifest["artifacts"].values():
        data = (out / entry["path"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["bytes"] == len(data)
        with zipfile.ZipFile(out / entry["path"]) as zf:
            assert entry["files"] == len(zf.namelist())
            tags |= {n.rsplit(".", 2)[-2] for n in zf.namelist() if "/__pycache__/" in f"/{n}" and n.endswith(".pyc")}
    assert [manifest["python"]["bytecode"]] == (sorted(tags) if tags else [None])


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


# ---- `omnicloud package` when little or nothing changed ---------------------------------------------


def _package(app: Path, out: Path, capsys) -> dict[str, str]:
    """`omnicloud package --cloud aws` into `out`: {function: sha256} from the manifest."""
    assert main(["package", "--cloud", "aws", "--app", str(app / "app.yaml"), "--out", str(out)]) == 0
    capsys.readouterr()
    return {n: a["sha256"] for n, a in json.loads((out / "manifest.json").read_text())["artifacts"].items()}


def test_unchanged_package_answers_from_the_last_build_without_building_again(tmp_path, capsys, monkeypatch):
    import omnicloud.bundle.cli

    app, out = _checkout(tmp_path, "stamp"), tmp_path / "out"
    first = _package(app, out, capsys)
    zips = {p: p.stat().st_mtime_ns for p in out.glob("*.zip")}

    def no_build(args):
        raise AssertionError("rebuilt although nothing changed")

    monkeypatch.setattr(omnicloud.bundle.cli, "run", no_build)
    assert main(["package", "--cloud", "aws", "--app", str(app / "app.yaml"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert all(f"sha256:{sha[:16]}" in printed for sha in first.values()) and "manifest:" in printed
    assert {p: p.stat().st_mtime_ns for p in out.glob("*.zip")} == zips
    # Another cloud, or another output directory, is not the same build.
    with pytest.raises(AssertionError, match="rebuilt"):
        main(["package", "--cloud", "gcp", "--app", str(app / "app.yaml"), "--out", str(out)])


def test_package_rebuilds_what_a_change_touches(tmp_path, capsys):
    app, out = _checkout(tmp_path, "changes"), tmp_path / "out"
    first = _package(app, out, capsys)
    tick = app / "shop" / "tick.py"
    tick.write_text(tick.read_text() + "\n# changed\n")
    second = _package(app, out, capsys)
    assert second["tick"] != first["tick"] and {n: second[n] for n in ("web", "jobs")} == {
        n: first[n] for n in ("web", "jobs")}
    # A data file added to a package a handler imports is shipped (the package's listing changed).
    (app / "shop" / "templates" / "extra.html").write_text("<p>new</p>")
    third = _package(app, out, capsys)
    with zipfile.ZipFile(out / "web.zip") as zf:
        assert "shop/templates/extra.html" in zf.namelist()
    assert third["web"] != second["web"]
    # app.yaml itself: a new timeout is a new artifact only where it shows (nowhere on AWS), but the
    # build runs again and the manifest stays right.
    text = (app / "app.yaml").read_text().replace("timeout: 30", "timeout: 40")
    (app / "app.yaml").write_text(text)
    assert _package(app, out, capsys) == third


def test_the_clouds_python_runs_the_shipped_bytecode_without_compiling_the_sources(tmp_path):
    """Lambda's python3.12, clean (-I -S, nothing written: -B), imports the runtime from the pycs:
    with every runtime source made unreadable as Python, the artifact still answers."""
    from omnicloud.bundle import PYTHON_VERSIONS
    from omnicloud.bundle.bytecode import compiler_for

    compiler = compiler_for(PYTHON_VERSIONS["aws"], None)
    if compiler is None:
        pytest.skip(f"no Python {PYTHON_VERSIONS['aws']} on this machine")
    artifact = _build(_checkout(tmp_path, "pyc"), "aws", architecture="x86_64")["web"]
    task = tmp_path / "task"
    with zipfile.ZipFile(artifact.path) as zf:
        zf.extractall(task)
    for source in (task / "runtime").rglob("*.py"):
        source.write_text("raise SystemExit('the source was compiled, not the shipped bytecode')\n")
    event = json.dumps(_api_gateway_event("/hello/ada"))
    code = (f"import sys, json\nsys.path[:0] = [{str(task)!r}]\nimport omnicloud_entry\n"
            f"print(json.dumps(omnicloud_entry.handler(json.loads({event!r}), None)['statusCode']))\n")
    proc = subprocess.run([str(compiler.python), "-I", "-S", "-B", "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, env={"OMNICLOUD_FUNCTION": "web"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "200"


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


def test_bytecode_compiled_in_this_process_is_what_a_fresh_interpreter_of_the_same_python_writes(
        tmp_path, monkeypatch):
    """When the cloud's Python is the running one, the pycs are compiled in this process (no second
    interpreter to start); they are the same bytes as `python -I -S` of that Python writes."""
    import dataclasses

    from omnicloud.bundle import bytecode

    here = bytecode.compiler_for(f"{sys.version_info.major}.{sys.version_info.minor}", None)
    assert here is not None and here.python == Path(sys.executable)
    elsewhere = dataclasses.replace(here, python=Path(os.path.realpath(sys.executable)))
    assert elsewhere.python != here.python  # the venv's python is a link to the same interpreter
    sources = [("shop/a.py", b"TAGS = {'x', 'y', 3}\n\n\ndef f(n):\n    assert n, 'no n'\n    return {n} | TAGS\n"),
               ("shop/broken.py", b"def f(:\n")]
    started = []
    worker = bytecode.Compiler.worker
    monkeypatch.setattr(bytecode.Compiler, "worker", lambda self: started.append(self) or worker(self))
    in_process = here.compile(sources, tmp_path / "here")
    assert not started
    fresh = elsewhere.compile(sources, tmp_path / "fresh")
    assert started
    assert in_process[0].read_bytes() == fresh[0].read_bytes()
    assert in_process[1] is None and fresh[1] is None
    why = here.failure("shop/broken.py", sources[1][1], tmp_path / "here")
    assert why and why == elsewhere.failure("shop/broken.py", sources[1][1], tmp_path / "fresh")


def test_an_azure_entry_file_is_rendered_once_for_its_arguments_and_templates(tmp_path, monkeypatch):
    """function_app.py comes from the build cache while its arguments, the templates and the
    renderer are unchanged (a rebuild then imports no jinja2), and is rendered again when one changes."""
    from omnicloud import bundle
    from runtime.adapters import azure_templates

    cache = tmp_path / "cache"
    rendered = azure_templates.render_function_app("api", "shop.web:app", "http", "/")
    assert bundle._function_app("api", "shop.web:app", "http", "/", cache) == rendered
    renders = []
    monkeypatch.setattr(azure_templates, "render_function_app", lambda *args: renders.append(args) or "new\n")
    assert bundle._function_app("api", "shop.web:app", "http", "/", cache) == rendered and not renders
    assert bundle._function_app("api", "shop.web:app", "http", "/v2", cache) == "new\n"
    templates = tmp_path / "templates"
    shutil.copytree(azure_templates.TEMPLATES, templates)
    (templates / "azure_function_app.py.j2").write_text("# another template\n")
    monkeypatch.setattr(azure_templates, "TEMPLATES", templates)
    assert bundle._function_app("api", "shop.web:app", "http", "/", cache) == "new\n"
    assert renders == [("api", "shop.web:app", "http", "/v2"), ("api", "shop.web:app", "http", "/")]


def test_a_compiler_started_early_takes_the_next_jobs_and_one_left_unused_is_ended(tmp_path, monkeypatch):
    """`omnicloud package` starts the cloud's interpreter before loading app.yaml; the build's compile
    then uses that process (no second start) and gets the same bytes; an unused one is ended."""
    from omnicloud.bundle import PYTHON_VERSIONS, bytecode

    compiler = bytecode.compiler_for(PYTHON_VERSIONS["aws"], None)
    if compiler is None or compiler.python == Path(sys.executable):
        pytest.skip(f"no separate Python {PYTHON_VERSIONS['aws']} on this machine")
    sources = [("shop/a.py", b"TAGS = {'x', 'y'}\n")]
    reference = compiler.compile(sources, tmp_path / "fresh")[0].read_bytes()
    bytecode.start_early(compiler)
    early = bytecode._early[compiler.python]
    started = []
    worker = bytecode.Compiler.worker
    monkeypatch.setattr(bytecode.Compiler, "worker", lambda self: started.append(self) or worker(self))
    assert compiler.compile(sources, tmp_path / "early")[0].read_bytes() == reference
    assert not started and early.returncode == 0 and not bytecode._early
    bytecode.start_early(compiler)
    unused = bytecode._early[compiler.python]
    bytecode.stop_early()
    assert unused.returncode is not None and not bytecode._early
