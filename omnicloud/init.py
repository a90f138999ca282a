"""`omnicloud init [DIR] --template NAME`: a new project from one of the packaged templates.

A template is a directory of omnicloud/templates (package data): its files are copied as they
are, `*.j2` files are rendered with Jinja2 (the suffix dropped), and `common/` is laid under
every template. The app name is written into app.yaml's top-level `name:`. Nothing that exists
is overwritten: init checks every target first and writes nothing if one is taken.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CLI reads TEMPLATES for every command: importlib.resources only when init runs
    from importlib.abc import Traversable

COMMON = "common"
ABOUT = "ABOUT.md"  # a template's own paragraph for README.md
# Files named without their leading dot in the package (tools that copy package data drop dotfiles).
RENAMED = {"gitignore": ".gitignore"}
SKIPPED_DIRS = {"__pycache__"}


@dataclass(frozen=True)
class Template:
    directory: str  # under omnicloud/templates
    summary: str
    # The handlers have third-party requirements (functions/requirements.txt).
    cloud_requirements: bool = False
    # Directories laid between common/ and the template's own (bearer/: token auth for the API).
    shared: tuple[str, ...] = ()


TEMPLATES = {
    "agents": Template(
        "agents",
        "the agent platform: agents in a table, tasks over HTTP run by a queue worker,"
        " events on a topic, signed webhooks, API-key and JWT auth, a sweeper",
        cloud_requirements=True,
    ),
    "http-api": Template(
        "http_api",
        "an HTTP API over a table: create, list (cursor), read, update with"
        " If-Match, delete; bearer-token auth from a secret",
        shared=("bearer",),
    ),
    "queue-worker": Template(
        "queue_worker",
        "an HTTP endpoint queues jobs, a worker runs them; failures are"
        " retried, then dead-lettered",
        shared=("bearer",),
    ),
    "fan-out": Template(
        "fan_out",
        "an HTTP endpoint publishes events on a topic; one subscriber keeps every"
        " event, a filtered one only some",
        shared=("bearer",),
    ),
}

NAME_RULE = "lowercase letters, digits and single hyphens, 2-16 characters, starting with a letter"


class InitError(Exception):
    """The project cannot be written; the message is one line that says what to do."""


def app_name(directory: Path, name: str | None) -> str:
    """The app name: as given, or from the directory's name; one that app.yaml accepts."""
    from spec.model import APP_NAME_MAX, APP_NAME_MIN, NAME_PATTERN

    if name is None:
        derived = re.sub(r"[^a-z0-9]+", "-", directory.resolve().name.lower()).strip("-")
        if re.fullmatch(NAME_PATTERN, derived) and APP_NAME_MIN <= len(derived) <= APP_NAME_MAX:
            return derived
        raise InitError(
            f"the directory name {directory.resolve().name!r} does not make an app name ({NAME_RULE});"
            " pass --name, e.g. --name orders"
        )
    if not (re.fullmatch(NAME_PATTERN, name) and APP_NAME_MIN <= len(name) <= APP_NAME_MAX):
        raise InitError(f"--name {name!r} is not an app name ({NAME_RULE}); e.g. --name orders")
    return name


def _walk(root: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    """(relative path, file) for every file under `root`, in a stable order."""
    out = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            if entry.name not in SKIPPED_DIRS:
                out += _walk(entry, f"{prefix}{entry.name}/")
        elif not entry.name.endswith((".pyc", ".pyo")):
            out.append((prefix + entry.name, entry))
    return out


def _target(rel: str) -> str:
    head, _, leaf = rel.rpartition("/")
    leaf = RENAMED.get(leaf, leaf)
    if leaf.endswith(".j2"):
        leaf = leaf[: -len(".j2")]
    return f"{head}/{leaf}" if head else leaf


def with_app_name(app_yaml: str, name: str) -> str:
    """app.yaml with its top-level `name:` set to `name` (comments and layout kept)."""
    text, count = re.subn(r"^name:[^\n]*$", f"name: {name}", app_yaml, count=1, flags=re.MULTILINE)
    if not count:
        raise InitError(
            "the template's app.yaml has no top-level name:; this is a bug in omnicloud"
        )
    return text


def omnicloud_requirement(extras: str = "aws,azure,gcp") -> str:
    """The requirements.txt line that installs the omnicloud running `init`, as it was installed
    (PEP 610's direct_url.json): a wheel or sdist by its URL, a source checkout installed
    editable as editable again (a plain install would replace the checkout's editable one), else
    by version from the index it came from."""
    import json
    from importlib import metadata
    from urllib.parse import unquote, urlsplit

    from omnicloud import __version__

    try:
        direct = json.loads(
            metadata.distribution("omnicloud").read_text("direct_url.json") or "null"
        )
    except (metadata.PackageNotFoundError, ValueError):
        direct = None
    url = direct.get("url") if isinstance(direct, dict) else None
    if not isinstance(url, str) or not url.startswith("file:"):
        return f"omnicloud[{extras}]=={__version__}"
    if (direct.get("dir_info") or {}).get("editable"):
        return f"-e {unquote(urlsplit(url).path)}[{extras}]"
    return f"omnicloud[{extras}] @ {url}"


def virtualenv_for(project: Path) -> str:
    """The virtualenv Pulumi.yaml names: the one running omnicloud (it has omnicloud and the Pulumi
    SDKs), relative to the project when it is nearby, else absolute; `.venv` when not in one."""
    if sys.prefix == sys.base_prefix:
        return ".venv"
    venv = Path(sys.prefix).resolve()
    try:
        import os

        relative = os.path.relpath(venv, project.resolve())
    except ValueError:  # another drive
        return venv.as_posix()
    return Path(relative).as_posix() if relative.count("..") <= 2 else venv.as_posix()


def plan(directory: Path, template: str, name: str, cloud: str) -> dict[str, str]:
    """Every file of the new project: relative path -> content."""
    import json

    import jinja2
    import yaml

    from omnicloud import __version__
    from spec.schema import app_schema

    chosen = TEMPLATES[template]
    from importlib import resources

    root = resources.files("omnicloud.templates")
    own = {rel: entry.read_text(encoding="utf-8") for rel, entry in _walk(root / chosen.directory)}
    about = own.pop(ABOUT)  # the template's README paragraph, rendered into README.md
    app_yaml = with_app_name(own["app.yaml"], name)
    context = {
        "name": name,
        "template": template,
        "cloud": cloud,
        "version": __version__,
        "about": about,
        "virtualenv": virtualenv_for(directory),
        "omnicloud_requirement": omnicloud_requirement(),
        "cloud_requirements": chosen.cloud_requirements,
        "secrets": sorted((yaml.safe_load(app_yaml) or {}).get("secrets") or {}),
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
    }
    env = jinja2.Environment(
        keep_trailing_newline=True, undefined=jinja2.StrictUndefined, autoescape=False
    )
    files: dict[str, str] = {}
    sources = [
        (rel, entry.read_text(encoding="utf-8"))
        for layer in (COMMON, *chosen.shared)
        for rel, entry in _walk(root / layer)
    ] + list(own.items())
    for rel, text in sources:  # later layers win: the template's own files over shared and common
        files[_target(rel)] = env.from_string(text).render(context) if rel.endswith(".j2") else text
    files["app.yaml"] = app_yaml
    files["app.schema.json"] = json.dumps(app_schema(), indent=2) + "\n"
    return files


def create(
    directory: Path, *, template: str, name: str | None = None, cloud: str = "aws"
) -> list[Path]:
    """Write the project into `directory` (created if missing); refuse if any file exists."""
    if template not in TEMPLATES:
        raise InitError(f"no template {template!r}; use one of {', '.join(TEMPLATES)}")
    if directory.exists() and not directory.is_dir():
        raise InitError(f"{directory} is a file; pass a directory")
    name = app_name(directory, name)
    files = plan(directory, template, name, cloud)
    for rel in files:
        target = directory / rel
        if target.exists() or target.is_symlink():
            raise InitError(
                f"{target} already exists; init never overwrites a file: start in an empty"
                " directory, or move it away"
            )
    written = []
    for rel, text in files.items():
        target = directory / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(
                target, "x", encoding="utf-8"
            ) as out:  # "x": never replace what appeared meanwhile
                out.write(text)
        except FileExistsError:
            raise InitError(
                f"{target} appeared while init was writing; init never overwrites a file"
            ) from None
        written.append(target)
    return written
