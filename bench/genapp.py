"""Generate a realistic app of N functions (queues, topics, tables, secrets in proportion)."""

from __future__ import annotations

from pathlib import Path

import yaml

HANDLERS = '''"""Generated handlers for the plan-time benchmark."""

from runtime import Router

app = Router()


@app.get("/")
def index(request):
    return {"ok": True}


def consume(message):
    return None


def tick(event):
    return None
'''


def generate(directory: Path, functions: int) -> Path:
    """Write app.yaml + handlers for `functions` functions; return the app.yaml path.

    Per 10 functions: 4 http, 3 queue consumers, 2 topic subscribers (filtered), 1 schedule;
    one queue per consumer, a topic per 5 functions, a table per 5, a secret per 10.
    """
    directory.mkdir(parents=True, exist_ok=True)
    pkg = directory / "gen"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text('"""Generated app."""\n')
    (pkg / "handlers.py").write_text(HANDLERS)
    n_topics = max(1, functions // 5)
    n_tables = max(1, functions // 5)
    n_secrets = max(1, functions // 10)
    queues, topics, tables, secrets, fns = {}, {}, {}, {}, {}
    for t in range(n_topics):
        topics[f"topic{t}"] = {}
    for t in range(n_tables):
        tables[f"table{t}"] = {"partition_key": "pk", "sort_key": "sk", "ttl": "expires_at"}
    for s in range(n_secrets):
        secrets[f"secret{s}"] = {}
    for i in range(functions):
        role = i % 10
        links = {f"table{i % n_tables}": ["read", "write"], f"topic{i % n_topics}": ["publish"],
                 f"secret{i % n_secrets}": ["read"]}
        fn: dict = {"handler": "gen.handlers:consume", "memory": 512, "timeout": 30, "links": links}
        if role < 4:
            fn.update(handler="gen.handlers:app", http=f"/f{i}")
        elif role < 7:
            queues[f"queue{i}"] = {"visibility_timeout": 60, "max_retries": 4}
            fn["queue"] = {"name": f"queue{i}", "batch_size": 1}
        elif role < 9:
            fn["topic"] = {"name": f"topic{i % n_topics}", "filter": {"type": f"event.{i}"}}
        else:
            fn.update(handler="gen.handlers:tick", schedule="every 5 minutes")
        fns[f"fn{i}"] = fn
    body = {"name": "gen", "functions": fns, "queues": queues, "topics": topics, "tables": tables, "secrets": secrets}
    path = directory / "app.yaml"
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    for stack in ("dev",):
        (directory / f"Pulumi.{stack}.yaml").write_text(
            "config:\n  omnicloud:cloud: aws\n  omnicloud:environment: dev\n  aws:region: us-east-1\n"
            "  azure-native:location: westeurope\n  gcp:project: bench-project\n  gcp:region: us-central1\n")
    # The Pulumi program `pulumi up` (and so `omnicloud preview`) runs.
    (directory / "__main__.py").write_text("from omnicloud.program import main\n\nmain()\n")
    return path
