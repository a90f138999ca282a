"""`omnicloud preview --cloud all --json`: every cloud's plan, offline, with no wildcard grant."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OWNER_LIKE_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",  # Owner
    "b24988ac-6180-42a0-ab88-20f7382dd24c",  # Contributor
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",  # User Access Administrator
}


def _preview_all(stack: str, project: str | None = None) -> list[dict]:
    cmd = [sys.executable, "-m", "omnicloud", "preview", "--cloud", "all", "--stack", stack, "--json"]
    if project:
        cmd += ["--project", project]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module", params=["dev", "prod"])
def plans(request):
    return request.param, _preview_all(request.param)


def _aws_wildcards(resources: list[dict]) -> list[str]:
    found = []
    for r in resources:
        if r["type"] not in ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy", "aws:sqs/queuePolicy:QueuePolicy"):
            continue
        doc = json.loads(r["props"]["policy"])
        for statement in doc["Statement"]:
            actions = statement.get("Action", [])
            actions = [actions] if isinstance(actions, str) else actions
            resources_ = statement.get("Resource", [])
            resources_ = [resources_] if isinstance(resources_, str) else resources_
            found += [f"{r['name']}: action {a}" for a in actions if "*" in a]
            for res in resources_:
                # Lambda names its log streams at run time: the only wildcard AWS leaves, scoped to
                # the function's own log group.
                if "*" in res and not re.fullmatch(r"arn:aws:logs:[^*]+:log-group:/aws/lambda/[^*]+:log-stream:\*", res):
                    found.append(f"{r['name']}: resource {res}")
    return found


def _azure_wildcards(resources: list[dict]) -> list[str]:
    found = []
    for r in resources:
        if r["type"] != "azure-native:authorization:RoleAssignment":
            continue
        role = r["props"]["roleDefinitionId"].rsplit("/", 1)[-1]
        scope = r["props"]["scope"]
        if role in OWNER_LIKE_ROLES:
            found.append(f"{r['name']}: owner-like role {role}")
        if re.fullmatch(r"/subscriptions/[^/]+(/resourceGroups/[^/]+)?", scope) or "*" in scope:
            found.append(f"{r['name']}: broad scope {scope}")
    return found


def _gcp_wildcards(resources: list[dict]) -> list[str]:
    found = []
    for r in resources:
        if "IAMMember" not in r["type"] and "IamMember" not in r["type"]:
            continue
        props = r["props"]
        role = props.get("role", "")
        if role in ("roles/owner", "roles/editor") or role.endswith(".admin") or "*" in role:
            found.append(f"{r['name']}: role {role}")
        if props.get("member") in ("allUsers", "allAuthenticatedUsers"):
            found.append(f"{r['name']}: public member")
        # Build logs are the one project-wide grant: Cloud Logging has no narrower scope to write to.
        if (r["type"] == "gcp:projects/iAMMember:IAMMember" and not props.get("condition")
                and role != "roles/logging.logWriter"):
            found.append(f"{r['name']}: unconditioned project-wide {role}")
    return found


WALKERS = {"aws": _aws_wildcards, "azure": _azure_wildcards, "gcp": _gcp_wildcards}
GRANT_TYPES = {
    "aws": "aws:iam/rolePolicy:RolePolicy",
    "azure": "azure-native:authorization:RoleAssignment",
    "gcp": "gcp:pubsub/topicIAMMember:TopicIAMMember",
}


def test_preview_all_gives_one_plan_per_cloud_in_the_documented_shape(plans):
    stack, result = plans
    assert [p["cloud"] for p in result] == ["aws", "azure", "gcp"]
    for plan in result:
        assert plan["stack"] == stack
        urns = {r["urn"] for r in plan["resources"]}
        for r in plan["resources"]:
            assert set(r) >= {"urn", "type", "name", "parent", "props"}
            assert r["parent"] is None or r["parent"] in urns or r["parent"].endswith(f"omnicloud-{stack}")
        kinds = {r["type"] for r in plan["resources"] if r["type"].startswith("omnicloud:index:")}
        assert {"omnicloud:index:Function", "omnicloud:index:Queue", "omnicloud:index:Table"} <= kinds


def test_no_wildcard_grant_on_any_cloud(plans):
    _, result = plans
    for plan in result:
        grants = [r for r in plan["resources"] if r["type"] == GRANT_TYPES[plan["cloud"]]]
        assert grants, f"{plan['cloud']}: the walk found no grants to check"
        assert WALKERS[plan["cloud"]](plan["resources"]) == []


def test_the_walk_catches_a_wildcard(plans):
    """The walkers are not vacuous: a planted wildcard on each cloud is reported."""
    _, result = plans
    planted = {
        "aws": {"type": "aws:iam/rolePolicy:RolePolicy", "name": "bad",
                "props": {"policy": json.dumps({"Statement": [{"Action": "dynamodb:*", "Resource": "*"}]})}},
        "azure": {"type": "azure-native:authorization:RoleAssignment", "name": "bad",
                  "props": {"roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c",
                            "scope": "/subscriptions/0000"}},
        "gcp": {"type": "gcp:projects/iAMMember:IAMMember", "name": "bad", "props": {"role": "roles/editor", "member": "allUsers"}},
    }
    for cloud, resource in planted.items():
        assert len(WALKERS[cloud]([resource])) >= 2


def test_preview_of_a_broken_app_is_one_line_per_problem(tmp_path):
    app = tmp_path / "broken.yaml"
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "api.py").write_text("app = None\n")
    app.write_text("name: agents\nfunctions:\n  api:\n    handler: functions.api:app\n    http: /\n    links: {nope: [read]}\n")
    proc = subprocess.run([sys.executable, "-m", "omnicloud", "preview", "--cloud", "aws", "--app", str(app)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{app}:6:") and "nope" in lines[0]
    assert "Traceback" not in proc.stderr


def test_preview_of_an_unknown_stack_names_the_stacks_there():
    proc = subprocess.run([sys.executable, "-m", "omnicloud", "preview", "--cloud", "gcp", "--stack", "staging"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert "Pulumi.staging.yaml" in proc.stderr and "dev" in proc.stderr and "prod" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_preview_refuses_a_stack_override_over_the_clouds_limit(tmp_path):
    # app.yaml is valid; the stack asks Lambda for more memory than it has.
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "api.py").write_text("app = None\n")
    (tmp_path / "app.yaml").write_text("name: agents\nfunctions:\n  api:\n    handler: functions.api:app\n    http: /\n")
    (tmp_path / "__main__.py").write_text((ROOT / "__main__.py").read_text())
    (tmp_path / "Pulumi.big.yaml").write_text(
        "config:\n  omnicloud:cloud: aws\n  aws:region: eu-west-1\n  omnicloud:functions:\n    api: {memory: 20000}\n")
    proc = subprocess.run([sys.executable, "-m", "omnicloud", "preview", "--cloud", "aws", "--stack", "big",
                           "--project", str(tmp_path), "--json"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "Traceback" not in proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if "Pulumi.big.yaml" in x]
    assert "omnicloud:functions.api.memory" in line and "10240" in line


EXAMPLES = sorted(p.parent.relative_to(ROOT).as_posix() for p in (ROOT / "examples").glob("*/app.yaml"))


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("project", EXAMPLES)
def test_examples_preview_on_every_cloud_without_wildcards(project, stack):
    """Each example is its own Pulumi project (its own stack files) sharing the program."""
    plans = _preview_all(stack, project=project)
    assert [p["cloud"] for p in plans] == ["aws", "azure", "gcp"]
    for plan in plans:
        assert any(r["type"] == "omnicloud:index:Function" for r in plan["resources"])
        assert WALKERS[plan["cloud"]](plan["resources"]) == []


def test_there_are_examples_to_preview():
    assert len(EXAMPLES) >= 3


def test_preview_lists_resources_in_one_stable_order():
    """Registrations finish in any order (executor threads): the plan is printed sorted by URN, so
    the same program prints the same plan on every run and two plans diff cleanly."""
    import random

    from omnicloud.preview import render_tree, run_preview

    first = run_preview(ROOT, "gcp", "dev")
    urns = [r.urn for r in first.resources]
    assert urns == sorted(urns)
    second = run_preview(ROOT, "gcp", "dev")
    assert json.dumps(second.as_json()) == json.dumps(first.as_json())
    text = render_tree(first)
    random.Random(7).shuffle(second.resources)
    assert render_tree(second) != text or len(second.resources) < 2  # order alone changed the text
    second.resources.sort(key=lambda r: r.urn)
    assert render_tree(second) == text
    # Properties print with sorted keys too, at every depth.
    for resource in first.as_json()["resources"]:
        assert list(resource["props"]) == sorted(resource["props"])


# -- the project's own program (issue 11) --------------------------------------------------------

TEAM_MAIN = '''\
import pulumi
import pulumi_aws as aws

from omnicloud.program import main


def mark(marker):
    """Appends `marker` to a tag, so the test sees which transforms ran, in which order."""

    def transform(args):
        if not args.type_.startswith("aws:") or "tags" not in args.props:
            return None
        tags = dict(args.props.get("tags") or {})
        tags["order"] = tags.get("order", "") + marker
        return pulumi.ResourceTransformResult({**args.props, "tags": tags}, args.opts)

    return transform


def protect_tables(args):
    if args.type_ == "aws:dynamodb/table:Table":
        opts = pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(protect=True))
        return pulumi.ResourceTransformResult(args.props, opts)
    return None


def in_process(args):
    """The older API: the SDK applies it in the program's own process, before registration."""
    if args.type_ == "aws:sqs/queue:Queue":
        return pulumi.ResourceTransformationResult({**args.props, "delay_seconds": 7}, args.opts)
    return None


pulumi.runtime.register_stack_transformation(in_process)
pulumi.runtime.register_resource_transform(mark("s"))
pulumi.runtime.register_resource_transform(protect_tables)
app = main(opts=pulumi.ResourceOptions(transforms=[mark("p")]))
aws.sns.Topic("team-alerts", opts=pulumi.ResourceOptions(parent=app))
pulumi.export("team", "platform")
'''


def test_preview_runs_the_projects_own_main_with_both_transform_apis(tmp_path):
    from omnicloud.preview import run_preview
    from tests.projects import project

    result = run_preview(project(tmp_path, main=TEAM_MAIN), "aws", "dev")
    # What the team added to the program shows: its resource (tagged as a child of the App) and export.
    alerts = result.by_name("team-alerts", "aws:sns/topic:Topic")
    assert alerts.props["tags"]["managed-by"] == "omnicloud"
    assert result.outputs["team"] == "platform"
    # The engine's transforms, as `pulumi up` applies them: a resource's ancestors' (the App's
    # `transforms` option) before the stack's (register_resource_transform), on every resource.
    tagged = [r for r in result.resources if r.custom and "tags" in r.props]
    assert len(tagged) > 10 and {r.props["tags"]["order"] for r in tagged} == {"ps"}
    # An engine transform's options count too, and the in-process API still applies.
    assert all(r.protect for r in result.of_type("aws:dynamodb/table:Table"))
    assert not any(r.protect for r in result.of_type("aws:sqs/queue:Queue"))
    assert {r.props.get("delaySeconds") for r in result.of_type("aws:sqs/queue:Queue")} == {7}


def test_a_project_without_a_program_is_one_line_naming_the_file(tmp_path):
    from tests.projects import project

    directory = project(tmp_path)
    (directory / "__main__.py").unlink()
    proc = subprocess.run([sys.executable, "-m", "omnicloud", "preview", "--cloud", "aws", "--project",
                           str(directory)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert str(directory / "__main__.py") in line and "from omnicloud.program import main" in line


def test_preview_text_shows_tags_protection_and_the_properties_a_reviewer_checks(tmp_path):
    from omnicloud.preview import render_tree, run_preview
    from tests.projects import project

    stack = "  omnicloud:tags:\n    cost-center: cc-1234\n  omnicloud:functions:\n    api: {max_instances: 50}\n"
    text = render_tree(run_preview(project(tmp_path, stack=stack, environment="prod"), "gcp", "prod"))
    lines = text.splitlines()
    function = next(i for i, line in enumerate(lines) if "cloudfunctionsv2/function:Function  shop-api" in line)
    assert "serviceConfig.maxInstanceCount=50" in lines[function]
    assert lines[function + 1].strip().startswith("labels: cost-center=cc-1234,")
    database = next(line for line in lines if "firestore/database:Database" in line)
    assert "[protect, retain]" in database
