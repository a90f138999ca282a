"""What each function of the sample app and of every examples/ app is asked to do in the clean room.

Functions run in the order listed, so producers run before their consumers: a consumer's INBOX is
what its queue or topic (through its filter) received from the functions before it. Each scenario
is Python run inside the clean room with `http`, `message`, `schedule`, `INBOX`, `SECRETS`, `json`.
After it, every link of the function is exercised once more through the artifact's own runtime
clients (the probe), so each table, queue, topic and secret it may touch is used from the artifact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

CONSUME = """
assert INBOX, "nothing reached this function's queue or topic"
for item in INBOX:
    message(item)
"""


@dataclass(frozen=True)
class AppScenario:
    name: str
    app_dir: Path
    steps: dict[str, str]  # function -> scenario source, in running order
    secrets: dict[str, str] = field(default_factory=dict)
    seed: dict[str, list[dict]] = field(
        default_factory=dict
    )  # table -> items written before anything runs


AGENTS = AppScenario(
    "agents",
    ROOT,
    {
        "api": """
status, body = http("GET", "/health")
assert status == 200, body
status, body = http("POST", "/admin/bootstrap", {"authorization": "Bearer " + SECRETS["bootstrap-token"]})
assert status == 201, body
created = json.loads(body)
tenant = created["tenant"]["tenant_id"]
auth = {"authorization": "Bearer " + created["key"], "content-type": "application/json"}
status, body = http("POST", "/agents", auth, {"name": "cleanroom", "model": "echo", "tools": ["calculator"]})
assert status == 201, body
agent = json.loads(body)["agent_id"]
status, body = http("POST", f"/agents/{agent}/tasks", auth, {"input": "calculate 6*7"})
assert status == 202, body
status, body = http("GET", f"/agents/{agent}", auth)
assert status == 200 and json.loads(body)["name"] == "cleanroom", body
import time
import jwt  # the artifact's vendored PyJWT (on Google Cloud: installed from its requirements.txt)
token = jwt.encode({"sub": "cleanroom", "aud": "agents-api", "iss": "agents", "exp": int(time.time()) + 600,
                    "tenant": tenant, "permissions": ["agent:read"]}, SECRETS["jwt-secret"], algorithm="HS256")
status, body = http("GET", "/me", {"authorization": "Bearer " + token})
assert status == 200 and json.loads(body)["kind"] == "jwt" and json.loads(body)["tenant_id"] == tenant, body
status, body = http("GET", f"/agents/{agent}", {"authorization": "Bearer " + token})
assert status == 200 and json.loads(body)["agent_id"] == agent, body  # the token's tenant owns the agent
# The dashboard's files ship inside the artifact (functions/static) and are served from it.
status, body = http("GET", "/ui/")
assert status == 200 and b'<script type="module" src="app.js">' in body, body
for name in ("app.js", "charts.js", "style.css"):
    status, body = http("GET", "/ui/" + name)
    assert status == 200 and body, (name, status)
""",
        "worker": CONSUME,
        "notifier": CONSUME,
        "sweeper": "schedule()\n",
    },
    secrets={
        "bootstrap-token": "cleanroom-bootstrap-token-0123456789",
        "jwt-secret": "cleanroom-jwt-secret-0123456789abcdef0123456789abcdef",
    },
)

REPORTS = AppScenario(
    "reports",
    ROOT / "examples" / "reports",
    {
        "refresh-totals": "schedule()\n",
        "weekly-report": "schedule()\n",
        "mailer": CONSUME
        + """
login = [r["login"] for r in RECORDED["smtp"]]
assert login and all(pair == ["reports", SECRETS["smtp-password"]] for pair in login), RECORDED["smtp"]
""",
    },
    seed={"subscribers": [{"pk": "all", "email": "ops@example.com"}]},
)

STOREFRONT = AppScenario(
    "storefront",
    ROOT / "examples" / "storefront",
    {
        "admin": """
auth = {"authorization": "Bearer " + SECRETS["admin-token"], "content-type": "application/json"}
status, body = http("PUT", "/admin/products/mug", auth, {"title": "Mug"})
assert status == 200, body
status, body = http("GET", "/admin/orders/ada", auth)
assert status == 200, body
status, body = http("GET", "/admin/orders/ada", {"authorization": "Bearer wrong"})
assert status == 401, body
""",
        "site": """
status, body = http("GET", "/")
assert status == 200 and b"<h1>Store</h1>" in body, body
""",
        "api-v1": """
status, body = http("GET", "/api/v1/products/mug")
assert status == 200 and json.loads(body)["title"] == "Mug", body
status, body = http("POST", "/api/v1/orders", {"content-type": "application/json"},
                    {"customer": "ada", "lines": [{"sku": "mug", "qty": 1}]})
assert status == 201, body
""",
        "health": """
status, body = http("GET", "/healthz")
assert status == 200 and json.loads(body) == {"ok": True}, body
""",
        "fulfil": CONSUME,
    },
)

THUMBNAILS = AppScenario(
    "thumbnails",
    ROOT / "examples" / "thumbnails",
    {
        "api": """
status, body = http("POST", "/images", {"content-type": "application/json"}, {"url": "https://example.com/cat.png"})
assert status == 200, body
image = json.loads(body)["id"]
status, body = http("GET", f"/images/{image}")
assert status == 200 and json.loads(body)["status"] == "queued", body
""",
        "resizer": CONSUME,
        "indexer": CONSUME,
    },
)

WEBHOOKS = AppScenario(
    "webhooks",
    ROOT / "examples" / "webhooks",
    {
        "receiver": """
import hashlib, hmac
for event in ({"type": "customer.created", "data": {"id": "cus_1", "email": "ada@example.com"}},
              {"type": "invoice.paid", "data": {"customer": "cus_1"}}):
    raw = json.dumps(event).encode()
    signature = hmac.new(SECRETS["signing-secret"].encode(), raw, hashlib.sha256).hexdigest()
    status, body = http("POST", "/webhooks/stripe", {"content-type": "application/json", "x-signature": signature}, raw)
    assert status == 200, body
status, body = http("POST", "/webhooks/stripe", {"x-signature": "forged"}, b"{}")
assert status == 401, body
""",
        "crm-sync": CONSUME,
        "billing-sync": CONSUME,
        "audit": CONSUME,
    },
)

APPS = [AGENTS, REPORTS, STOREFRONT, THUMBNAILS, WEBHOOKS]
