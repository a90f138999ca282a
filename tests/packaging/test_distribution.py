"""What the distribution declares (pyproject.toml) and what this repository pins (requirements*.txt,
constraints.txt) agree: the pins satisfy every declared range, and every runtime or deploy
package the repository pins is declared by the core or a cloud's extra."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# Pinned here but not omnicloud's own: the agent platform's (functions/requirements.txt, shipped
# as the `agents` template's requirements) and the policy pack's (policy/requirements.txt).
NOT_OMNICLOUDS = {"pyjwt", "cryptography", "pulumi-policy"}


def _pins(*files: str) -> dict[str, str]:
    pins = {}
    for name in files:
        for line in (ROOT / name).read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                requirement = Requirement(line)
                (spec,) = requirement.specifier
                assert spec.operator == "==", f"{name}: {line} is not pinned with =="
                pins[canonicalize_name(requirement.name)] = spec.version
    return pins


def _declared() -> dict[str, list[Requirement]]:
    out = {"core": [Requirement(r) for r in PROJECT["dependencies"]]}
    for extra, requirements in PROJECT["optional-dependencies"].items():
        out[extra] = [Requirement(r) for r in requirements]
    return out


def test_every_declared_range_holds_the_pinned_version():
    pins = _pins("constraints.txt")
    for group, requirements in _declared().items():
        for requirement in requirements:
            name = canonicalize_name(requirement.name)
            assert name in pins, f"{group}: {requirement} is not pinned in constraints.txt"
            assert requirement.specifier.contains(pins[name]), (
                f"{group}: {requirement} excludes the pin {pins[name]}"
            )


def test_every_package_this_repository_runs_on_is_declared():
    declared = {canonicalize_name(r.name) for group in _declared().values() for r in group}
    pinned = set(_pins("requirements.txt")) - NOT_OMNICLOUDS
    assert pinned - declared == set(), "pinned in requirements.txt, missing from pyproject.toml"
    assert declared - pinned == set(), "declared in pyproject.toml, missing from requirements.txt"


def test_each_cloud_extra_brings_its_pulumi_provider_and_nothing_of_another_cloud():
    providers = {"aws": "pulumi-aws", "azure": "pulumi-azure-native", "gcp": "pulumi-gcp"}
    for cloud, provider in providers.items():
        names = {canonicalize_name(r.name) for r in _declared()[cloud]}
        assert provider in names
        assert not names & (set(providers.values()) - {provider})
    assert not {canonicalize_name(r.name) for r in _declared()["core"]} & set(providers.values())


def test_the_agent_platform_is_a_template_not_a_package():
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"][
        "find"
    ]
    assert not any(pattern.startswith("functions") for pattern in find["include"])
    assert (ROOT / "omnicloud/templates/agents/functions").resolve() == (
        ROOT / "functions"
    ).resolve()
