"""The agent platform's dashboard ships inside the api function's artifact and is served from it."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from omnicloud.bundle import build_artifacts
from spec import load_app

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "functions" / "static"


def _event(path: str) -> dict:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "example.execute-api.us-east-1.amazonaws.com"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "example",
            "domainName": "example.execute-api.us-east-1.amazonaws.com",
            "http": {
                "method": "GET",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "test",
            },
            "requestId": "id-1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "21/Nov/2026:00:00:00 +0000",
            "timeEpoch": 1795000000000,
        },
        "isBase64Encoded": False,
    }


def test_the_api_artifact_holds_the_dashboard_and_serves_it_in_a_bare_interpreter(tmp_path):
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    artifacts = build_artifacts(
        load_app(ROOT / "app.yaml"),
        ROOT,
        "aws",
        tmp_path / "out",
        progress=None,
        architecture="x86_64",
        python_version=version,
    )
    task = tmp_path / "task"
    with zipfile.ZipFile(artifacts["api"].path) as zf:
        names = set(zf.namelist())
        zf.extractall(task)
    shipped = {f"functions/static/{p.name}" for p in STATIC.iterdir()}
    assert shipped <= names and "functions/ui.py" in names
    paths = ["/ui/", *(f"/ui/{p.name}" for p in sorted(STATIC.iterdir()))]
    code = (
        "import sys, json\n"
        f"sys.path[:0] = [{str(task)!r}]\n"
        "import omnicloud_entry\n"
        f"for path in {paths!r}:\n"
        f"    event = json.loads({json.dumps(_event('/'))!r}); event['rawPath'] = event['requestContext']['http']['path'] = path\n"
        "    print(json.dumps(omnicloud_entry.handler(event, None)))\n"
    )
    # Only the artifact on the path (-I -S: no site-packages); no cloud SDK is needed to serve files.
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={
            "PATH": os.environ.get("PATH", ""),
            "OMNICLOUD_FUNCTION": "api",
            "OMNICLOUD_TRIGGER": "http",
            "OMNICLOUD_HTTP_PREFIX": "/",
        },
    )
    assert proc.returncode == 0, proc.stderr
    answers = [json.loads(line) for line in proc.stdout.strip().splitlines()[-len(paths) :]]
    for path, answer in zip(paths, answers, strict=True):
        assert answer["statusCode"] == 200, (path, answer)
        raw = (
            base64.b64decode(answer["body"])
            if answer.get("isBase64Encoded")
            else answer["body"].encode()
        )
        name = "index.html" if path == "/ui/" else path.rsplit("/", 1)[1]
        assert raw == (STATIC / name).read_bytes(), path
        assert "frame-ancestors 'none'" in answer["headers"]["content-security-policy"]
