"""The README's curl walkthrough, run as written against a real `omnicloud dev`: the docs match the code."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from .conftest import ROOT
from .test_e2e import _wait, dev  # noqa: F401  (the dev-server fixture)

pytestmark = pytest.mark.e2e


def _walkthrough_blocks() -> list[str]:
    """The ```sh blocks of the README section that a new user copies, in order."""
    text = (ROOT / "README.md").read_text()
    start = text.index("## Try it")
    end = text.index("### More of the API", start)
    blocks = re.findall(r"```sh\n(.*?)```", text[start:end], re.S)
    assert blocks, "the README walkthrough has no shell blocks"
    return blocks


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed on this machine")
def test_readme_walkthrough_creates_an_agent_and_completes_a_task(dev):  # noqa: F811
    blocks = _walkthrough_blocks()
    assert "scripts/dev.sh" in blocks[0]  # the server: this test runs it itself
    script = "\n".join(blocks[1:])
    assert "BOOTSTRAP_TOKEN=paste-the-token-here" in script
    script = script.replace("http://127.0.0.1:8080", dev.url)
    script = script.replace("BOOTSTRAP_TOKEN=paste-the-token-here", f"BOOTSTRAP_TOKEN={dev.bootstrap_token()}")
    script = script.replace("python3 ", f"{ROOT / '.venv' / 'bin' / 'python'} ")
    script += '\necho "OUT agent=$AGENT task=$TASK key=$KEY"\n'
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    found = re.search(r"^OUT agent=(\S+) task=(\S+) key=(\S+)$", proc.stdout, re.M)
    assert found, proc.stdout[-2000:]
    agent, task, key = found.groups()

    def finished():
        status, body, _ = dev.request("GET", f"/tasks/{task}", token=key)
        return body if status == 200 and body["status"] not in ("queued", "running") else None

    body = _wait("the README's task to finish", finished, timeout=60)
    assert body["status"] == "succeeded", json.dumps(body)[:2000]
    assert body["agent_id"] == agent
    assert "84" in body["output"]  # the calculator's answer to 12*(3+4), as the README promises
