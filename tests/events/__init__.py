"""Real cloud event payloads for the adapter tests: ``load("aws", "sqs")`` reads aws/sqs.json."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).parent


@cache
def _read(cloud: str, source: str) -> Any:
    return json.loads((EVENTS / cloud / f"{source}.json").read_text(encoding="utf-8"))


def load(cloud: str, source: str) -> Any:
    """A fresh (deep-copied) payload, so a test may change it freely."""
    return copy.deepcopy(_read(cloud, source))


def sources(cloud: str) -> list[str]:
    return sorted(p.stem for p in (EVENTS / cloud).glob("*.json"))
