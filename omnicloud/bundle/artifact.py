"""What packaging produces and providers deploy: one function's zip, its sha256 and size.

Its own small module, so building artifacts (`omnicloud package`) imports no Pulumi.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Artifact:
    """One function's deployable code: a zip whose sha256 keys the deployment."""

    path: Path
    sha256: str
    bytes: int
