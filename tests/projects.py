"""A team's Pulumi project, written into a test's directory: Pulumi.yaml, one stack file and the
team's own __main__.py, deploying tests/apps/platform/app.yaml (or another app)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLATFORM_APP = ROOT / "tests" / "apps" / "platform" / "app.yaml"
# What `omnicloud init` writes: the program every project starts with.
DEFAULT_MAIN = "from omnicloud.program import main\n\nmain()\n"


def project(
    directory: Path,
    *,
    stack: str = "",
    main: str = DEFAULT_MAIN,
    app: Path = PLATFORM_APP,
    environment: str = "dev",
) -> Path:
    """A project in `directory`; `stack` is extra YAML under `config:` of Pulumi.<environment>.yaml
    (indented two spaces), `main` the text of __main__.py."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Pulumi.yaml").write_text("name: shop\nruntime: python\n")
    (directory / f"Pulumi.{environment}.yaml").write_text(
        "config:\n"
        "  omnicloud:cloud: aws\n"
        f"  omnicloud:environment: {environment}\n"
        f"  omnicloud:app: {app}\n"
        "  aws:region: eu-west-1\n"
        "  gcp:project: shop-dev\n"
        "  gcp:region: europe-west1\n" + stack
    )
    (directory / "__main__.py").write_text(main)
    return directory
