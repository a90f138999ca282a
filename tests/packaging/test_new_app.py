"""Done when (issue 12): a new app made with `omnicloud init` in an empty directory outside this
repository validates, previews on all three clouds, runs under `omnicloud dev` (answering over
HTTP) and passes its generated tests -- with omnicloud installed from its built wheel into a
fresh virtualenv, never with this repository or its .venv.

Third-party wheels come from a wheelhouse under .tools/ keyed by what decides its content
(constraints.txt, pyproject.toml, the agent platform's requirements): only its first build, and
a build after one of those changes, downloads from the package index; the installs themselves
run with `--no-index`. Previews share the bundler's wheel cache with this checkout's own previews
(OMNICLOUD_CACHE_DIR=.omnicloud/cache), so the agents template's dependencies are vendored offline
once any preview of the agent platform has run here.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from omnicloud.init import TEMPLATES
from tests.dev.conftest import free_port, wait_until

pytestmark = pytest.mark.wheel

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools"
CLOUDS = ("aws", "azure", "gcp")
# What the wheelhouse holds besides omnicloud's own requirements: the build backend (the wheel is
# built offline, with build isolation, as pip builds any project), pip for the new virtualenv
# (the bundler vendors with it) and the generated tests' runner.
BUILD = ["setuptools>=68", "wheel"]
EXTRA = ["pip", "pytest==9.2.0"]
# One HTTP call per template that needs its handlers, its links and its secret to work.
TOKEN = "done-when-token"
PROBES = {
    "agents": (
        "POST",
        "/admin/bootstrap",
        {"name": "root"},
        {"authorization": f"Bearer {TOKEN}"},
        201,
        "key",
    ),
    "http-api": (
        "POST",
        "/items",
        {"name": "first"},
        {"authorization": f"Bearer {TOKEN}"},
        201,
        "id",
    ),
    "queue-worker": (
        "POST",
        "/jobs",
        {"text": "a b c"},
        {"authorization": f"Bearer {TOKEN}"},
        202,
        "id",
    ),
    "fan-out": (
        "POST",
        "/events",
        {"type": "order.placed", "order_id": "o-1"},
        {"authorization": f"Bearer {TOKEN}"},
        202,
        "id",
    ),
}
SECRET_ENV = {
    "agents": "BOOTSTRAP_TOKEN",
    "http-api": "API_TOKEN",
    "queue-worker": "API_TOKEN",
    "fan-out": "API_TOKEN",
}


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: nothing points at this repository or its virtualenv."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OMNICLOUD_", "PYTHON", "VIRTUAL_ENV"))
        and k not in ("API_TOKEN", "BOOTSTRAP_TOKEN", "JWT_SECRET", "MODEL_API_KEY")
    }
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    # The bundler's wheel cache of this checkout (what previews of the agent platform here fill).
    env["OMNICLOUD_CACHE_DIR"] = str(ROOT / ".omnicloud" / "cache")
    env.update(extra)
    return env


def run(cmd: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=clean_env(**env), capture_output=True, text=True)
    assert proc.returncode == 0, (
        f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc


def pip(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run([str(python), "-m", "pip", *args], cwd)


def source_copy(target: Path) -> Path:
    """The files of this checkout (tracked, and new ones not ignored), as a clean tree to build."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for rel in filter(None, listed):
        source = ROOT / rel
        if source.is_symlink() or source.is_file():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / rel, follow_symlinks=False)
    return target


def build_wheel(source: Path, wheelhouse: Path, out: Path) -> Path:
    """omnicloud's wheel from a source tree or sdist, built offline as pip builds any project."""
    pip(
        Path(sys.executable),
        "wheel",
        "-q",
        "--no-deps",
        "--no-index",
        "--find-links",
        str(wheelhouse),
        "-w",
        str(out),
        str(source),
        cwd=out.parent,
    )
    (wheel,) = out.glob("omnicloud-*.whl")
    return wheel


def wheelhouse_key() -> str:
    digest = hashlib.sha256()
    for name in ("constraints.txt", "pyproject.toml", "functions/requirements.txt"):
        digest.update((ROOT / name).read_bytes())
    digest.update("\n".join(BUILD + EXTRA).encode())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, Path]:
    """omnicloud's wheel, built from this checkout and installed with every cloud's extra into a
    fresh virtualenv outside the repository."""
    tmp = tmp_path_factory.mktemp("wheel")
    assert ROOT not in tmp.parents
    python = Path(sys.executable)
    wheelhouse = TOOLS / "wheelhouse" / wheelhouse_key()
    fresh = not (wheelhouse / ".complete").exists()
    if fresh:  # the first run here (or in CI): download the wheels once
        partial = wheelhouse.with_name(wheelhouse.name + f".partial-{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        pip(python, "download", "-q", "-d", str(partial), *BUILD, cwd=tmp)
    src = source_copy(tmp / "src")
    wheel = build_wheel(src, partial if fresh else wheelhouse, tmp / "dist")
    if fresh:
        pip(
            python,
            "download",
            "-q",
            "-d",
            str(partial),
            "-c",
            str(ROOT / "constraints.txt"),
            f"omnicloud[aws,azure,gcp] @ {wheel.as_uri()}",
            *EXTRA,
            "-r",
            str(ROOT / "functions/requirements.txt"),
            cwd=tmp,
        )
        for own in partial.glob("omnicloud-*"):
            own.unlink()
        (partial / ".complete").write_text("")
        shutil.rmtree(wheelhouse, ignore_errors=True)
        partial.rename(wheelhouse)
        for stale in wheelhouse.parent.iterdir():  # wheelhouses of older constraints
            if stale != wheelhouse and ".partial-" not in stale.name:
                shutil.rmtree(stale, ignore_errors=True)

    # A fresh virtualenv; pip (this one, pointed at it) installs pip and omnicloud into it.
    venv = tmp / "venv"
    run([str(python), "-m", "venv", "--without-pip", str(venv)], tmp)
    venv_python = venv / "bin" / "python"
    pip(
        python,
        "--python",
        str(venv_python),
        "install",
        "-q",
        "--no-compile",
        "--no-index",
        "--find-links",
        str(wheelhouse),
        "pip",
        f"omnicloud[aws,azure,gcp] @ {wheel.as_uri()}",
        cwd=tmp,
    )
    return {
        "venv": venv,
        "python": venv_python,
        "omnicloud": venv / "bin" / "omnicloud",
        "wheelhouse": wheelhouse,
        "wheel": wheel,
        "src": src,
    }


def test_the_installed_package_is_the_wheel_not_the_repository(installed, tmp_path):
    proc = run(
        [
            str(installed["python"]),
            "-c",
            "import json, omnicloud, runtime, spec, components, providers, omnicloud.templates as t;"
            "print(json.dumps([m.__file__ for m in (omnicloud, runtime, spec, components, providers, t)]))",
        ],
        tmp_path,
    )
    site = installed["venv"] / "lib"
    for path in json.loads(proc.stdout):
        assert Path(path).is_relative_to(site) and not Path(path).is_relative_to(ROOT), path
    # The agent platform ships only as a template, never as a top-level `functions` package.
    missing = subprocess.run(
        [str(installed["python"]), "-c", "import functions"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
    )
    assert missing.returncode != 0 and "No module named 'functions'" in missing.stderr
    version = run([str(installed["omnicloud"]), "--version"], tmp_path).stdout.strip()
    assert version == f"omnicloud {installed['wheel'].name.split('-')[1]}"
    # The console's page is in the wheel (omnicloud dev serves it from the installed package).
    console = run(
        [
            str(installed["python"]),
            "-c",
            "from omnicloud.dev.local_routes import CONSOLE_DIR, CONSOLE_FILES;"
            "print(all((CONSOLE_DIR / n).is_file() for n in CONSOLE_FILES), CONSOLE_DIR)",
        ],
        tmp_path,
    )
    shipped, where = console.stdout.split()
    assert shipped == "True" and Path(where).is_relative_to(site)


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_a_new_app_from_each_template_works_end_to_end(installed, tmp_path, template):
    omnicloud, python = str(installed["omnicloud"]), installed["python"]
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    run([omnicloud, "init", "my-app", "--template", template], workspace)
    project = workspace / "my-app"

    # Pulumi.yaml names a virtualenv that exists and runs the Pulumi program's imports.
    pulumi_yaml = (project / "Pulumi.yaml").read_text()
    virtualenv = next(
        line.split(":", 1)[1].strip()
        for line in pulumi_yaml.splitlines()
        if line.strip().startswith("virtualenv:")
    )
    assert (project / virtualenv).resolve() == installed["venv"].resolve()
    run([str(project / virtualenv / "bin" / "python"), "-c", "import omnicloud.program"], project)
    # The README's set-up step, offline from the wheelhouse.
    pip(
        python,
        "install",
        "-q",
        "--no-compile",
        "--no-index",
        "--find-links",
        str(installed["wheelhouse"]),
        "-r",
        "requirements-dev.txt",
        cwd=project,
    )

    validated = run([omnicloud, "validate"], project)
    assert validated.stdout.startswith("app.yaml: valid for aws, azure and gcp")

    previews = {
        cloud: subprocess.Popen(
            [omnicloud, "preview", "--cloud", cloud, "--json"],
            cwd=project,
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for cloud in CLOUDS
    }  # one process per cloud, as `--cloud all` runs them, side by side
    for cloud, preview in previews.items():
        out, err = preview.communicate(timeout=600)
        assert preview.returncode == 0, (
            f"preview --cloud {cloud} exited {preview.returncode}:\n{err[-3000:]}"
        )
        proc = subprocess.CompletedProcess(preview.args, 0, out, err)
        plan = json.loads(proc.stdout)
        assert plan["cloud"] == cloud and plan["stack"] == "dev"
        kinds = {r["type"] for r in plan["resources"] if r["type"].startswith("omnicloud:index:")}
        assert {"omnicloud:index:Function", "omnicloud:index:HttpApi"} <= kinds, kinds
        assert "Traceback" not in proc.stderr
        # No secret has a value on the generated dev stack: each cloud warns the same, in JSON too.
        assert any("has no value on stack dev" in w for w in plan["warnings"])

    port = free_port()
    log = tmp_path / "dev.log"
    with open(log, "wb") as out:
        dev = subprocess.Popen(
            [omnicloud, "dev", "--port", str(port), "--no-reload"],
            cwd=project,
            env=clean_env(**{SECRET_ENV[template]: TOKEN}),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:

        def health() -> bool:
            if dev.poll() is not None:
                raise AssertionError(
                    f"omnicloud dev exited with {dev.returncode}:\n{log.read_text()}"
                )
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/_omnicloud/health", timeout=5
                ) as resp:
                    return resp.status == 200
            except OSError:
                return False

        wait_until(health, 60, "omnicloud dev to answer")
        method, path, payload, headers, status, field = PROBES[template]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}",
            method=method,
            data=json.dumps(payload).encode(),
            headers={"content-type": "application/json", **headers},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                answer = (resp.status, json.loads(resp.read()))
        except urllib.error.HTTPError as exc:
            answer = (exc.code, exc.read().decode())
        assert answer[0] == status and field in answer[1], (answer, log.read_text()[-3000:])
    finally:
        os.killpg(dev.pid, signal.SIGTERM)
        dev.wait(30)

    tested = run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], project)
    assert " passed" in tested.stdout and "failed" not in tested.stdout


def test_the_sdist_builds_the_same_wheel(installed, tmp_path):
    """`pip install` from the sdist brings the same files as from the wheel (templates included:
    the agents template's links to functions/ and app.yaml become files in the sdist)."""
    import tarfile
    import zipfile

    python = Path(sys.executable)
    # An sdist through the build backend, as `python -m build --sdist` makes one.
    code = (
        "import sys; from setuptools import build_meta as backend;"
        " print(backend.build_sdist(sys.argv[1]))"
    )
    sdist = (
        tmp_path
        / run([str(python), "-c", code, str(tmp_path)], installed["src"]).stdout.split()[-1]
    )
    with tarfile.open(sdist) as archive:
        assert not [m.name for m in archive.getmembers() if m.issym() or m.islnk()]
    rebuilt = build_wheel(sdist, installed["wheelhouse"], tmp_path / "from-sdist")

    def names(wheel: Path) -> set[str]:
        with zipfile.ZipFile(wheel) as archive:
            return {n for n in archive.namelist() if ".dist-info/" not in n}

    assert names(rebuilt) == names(installed["wheel"])
    assert "omnicloud/templates/agents/functions/api.py" in names(rebuilt)
