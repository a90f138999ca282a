"""What packaging produces and providers deploy: one function's zip, its sha256 and size.

Its own small module, so building artifacts (`omnicloud package`) imports no Pulumi.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Artifact:
    """One function's deployable code: a zip whose sha256 keys the deployment."""

    path: Path
    sha256: str
    bytes: int
    # The zip's entry names, when the build that made or reused it knows them (the manifest then
    # need not read the zip again); None otherwise.
    names: tuple[str, ...] | None = field(default=None, compare=False, repr=False)
