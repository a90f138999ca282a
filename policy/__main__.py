"""The omnicloud policy pack: the policies of omnicloud/policies.py, for `pulumi up --policy-pack policy/`."""

from __future__ import annotations

import sys
from pathlib import Path

# The pack runs in its own venv (requirements.txt) with policy/ as working directory; the
# policies live in the repository's omnicloud package, one directory up, used from source.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from omnicloud.policies import POLICIES  # noqa: E402

PolicyPack("omnicloud", policies=POLICIES, enforcement_level=EnforcementLevel.MANDATORY)
