"""The three everyday requests of a platform team (issue 11), each one small change in the team's
own files, and what `omnicloud preview` shows of it:

1. tag every resource with cost-center and give each Lambda a reserved concurrency: the stack file;
2. change one property of one generated resource (a Service Bus topic's TTL): __main__.py;
3. add a Bucket kind: the team's own package (examples/plugins/acme, tests/plugins/).
"""

from __future__ import annotations

import pytest

from omnicloud import policies
from omnicloud.preview import ProgramError, render_tree, run_preview
from tests.projects import project

FUNCTIONS = ("api", "worker", "notifier", "nightly")

# Request 1: the whole change, in Pulumi.dev.yaml.
TAGS_AND_CONCURRENCY = """\
  omnicloud:tags:
    cost-center: cc-1234
  omnicloud:functions:
    api: {reserved_concurrency: 20}
    worker: {reserved_concurrency: 5}
    notifier: {reserved_concurrency: 5}
    nightly: {reserved_concurrency: 1}
"""


def test_tags_and_reserved_concurrency_come_from_the_stack_file(tmp_path):
    result = run_preview(project(tmp_path, stack=TAGS_AND_CONCURRENCY), "aws", "dev")
    taggable = [r for r in result.resources if policies.TAGGABLE.get(r.type) == "tags"]
    assert len(taggable) > 20
    untagged = [
        r.name for r in taggable if (r.props.get("tags") or {}).get("cost-center") != "cc-1234"
    ]
    assert untagged == []
    # omnicloud's own tags stay beside the stack's.
    assert all(r.props["tags"]["managed-by"] == "omnicloud" for r in taggable)
    reserved = {
        r.name.removeprefix("shop-"): r.props.get("reservedConcurrentExecutions")
        for r in result.of_type("aws:lambda/function:Function")
    }
    assert reserved == {"api": 20, "worker": 5, "notifier": 5, "nightly": 1}
    text = render_tree(result)
    assert "cost-center=cc-1234" in text and "reservedConcurrentExecutions=20" in text


@pytest.mark.parametrize(("cloud", "key"), [("azure", "tags"), ("gcp", "labels")])
def test_stack_tags_reach_every_resource_on_azure_and_google_cloud(tmp_path, cloud, key):
    stack = "  omnicloud:tags:\n    cost-center: cc-1234\n"
    result = run_preview(project(tmp_path, stack=stack), cloud, "dev")
    tagged = [r for r in result.resources if policies.TAGGABLE.get(r.type) == key]
    assert len(tagged) > 10
    assert [
        r.name for r in tagged if (r.props.get(key) or {}).get("cost-center") != "cc-1234"
    ] == []
    assert "cost-center=cc-1234" in render_tree(result)


# Request 2: the whole change, in __main__.py: one property of one generated resource, through the
# topic component's `transform` for its node `topic` (providers/azure/topic.py). The node's args are
# the Service Bus topic's, so the team applies it on Azure stacks.
TOPIC_TTL_MAIN = """\
import pulumi

from omnicloud.program import main


def one_day_ttl(args, opts, name):
    args["default_message_time_to_live"] = "P1D"


on_azure = pulumi.Config("omnicloud").require("cloud") == "azure"
main(transform={"events": {"topic": one_day_ttl}} if on_azure else None)
"""


def test_one_property_of_one_generated_resource_changes_from_main(tmp_path):
    plain = run_preview(project(tmp_path / "plain"), "azure", "dev")
    changed = run_preview(project(tmp_path / "ttl", main=TOPIC_TTL_MAIN), "azure", "dev")
    (topic,) = changed.of_type("azure-native:servicebus:Topic")
    assert topic.props["defaultMessageTimeToLive"] == "P1D"
    assert "defaultMessageTimeToLive" not in plain.of_type("azure-native:servicebus:Topic")[0].props
    # Nothing else moved: every other resource is registered exactly as without the transform.
    before = {r.urn: r.as_json() for r in plain.resources}
    after = {r.urn: r.as_json() for r in changed.resources}
    assert set(before) == set(after)
    assert [u for u in before if before[u] != after[u]] == [topic.urn]
    assert "defaultMessageTimeToLive=P1D" in render_tree(changed)


def test_the_changes_are_the_teams_own_files_and_a_cloud_that_cannot_is_named(tmp_path):
    directory = project(tmp_path, stack=TAGS_AND_CONCURRENCY, main=TOPIC_TTL_MAIN)
    assert sorted(p.name for p in directory.iterdir()) == [
        "Pulumi.dev.yaml",
        "Pulumi.yaml",
        "__main__.py",
    ]
    aws = run_preview(directory, "aws", "dev")
    assert all(
        r.props.get("reservedConcurrentExecutions")
        for r in aws.of_type("aws:lambda/function:Function")
    )
    # The same stack file on Azure: reserved concurrency has no equivalent there, and says so.
    with pytest.raises(ProgramError) as refused:
        run_preview(directory, "azure", "dev")
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(
        "Pulumi.dev.yaml: omnicloud:functions.api.reserved_concurrency: on azure: "
    )
    assert "max_instances" in message  # what to use there instead
