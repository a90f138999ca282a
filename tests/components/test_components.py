"""Components in a team's own program: the provider passed explicitly, typed `nodes`, and
`transform={"<node>": fn}` on one generated resource, with one-line errors for a wrong key."""

from __future__ import annotations

import pytest

from omnicloud.preview import ProgramError, run_preview
from tests.projects import project

EXTRA_QUEUE = """\
import pulumi

from components import Queue
from omnicloud.program import main

app = main()


def short_dead_letters(args, opts, name):
    args["message_retention_seconds"] = 3600


audit = Queue("audit", {"max_retries": 9}, pulumi.ResourceOptions(parent=app), provider=app.provider,
              transform={"dead_letter": short_dead_letters})
pulumi.export("audit_dead_letter", audit.nodes.dead_letter.name)
pulumi.export("orders_table", app.resources["orders"].nodes.table.name)
"""


def test_a_team_builds_a_component_itself_with_the_apps_provider_and_reads_its_nodes(tmp_path):
    result = run_preview(project(tmp_path, main=EXTRA_QUEUE), "aws", "dev")
    queues = {
        r.name: r for r in result.of_type("aws:sqs/queue:Queue") if r.name.startswith("shop-audit")
    }
    assert set(queues) == {"shop-audit", "shop-audit-dlq"}
    assert (
        queues["shop-audit-dlq"].props["messageRetentionSeconds"] == 3600
    )  # the one node transformed
    assert queues["shop-audit"].props["messageRetentionSeconds"] == 345600
    assert '"maxReceiveCount": 10' in queues["shop-audit"].props["redrivePolicy"]
    # Typed nodes: the exports are the physical names of exactly those resources.
    assert result.outputs["audit_dead_letter"] == queues["shop-audit-dlq"].outputs["name"]
    (table,) = result.of_type("aws:dynamodb/table:Table")
    assert result.outputs["orders_table"] == table.outputs["name"]


def _main_with(transform: str) -> str:
    return f"from omnicloud.program import main\n\nmain(transform={transform})\n"


@pytest.mark.parametrize(
    ("cloud", "transform", "expected"),
    [
        # A node the mapping does not have: the nodes it has, and the likely one.
        (
            "aws",
            '{"jobs": {"queu": lambda a, o, n: None}}',
            "Queue 'jobs' on aws: transform key 'queu' is not one of its nodes; did you mean 'queue'?; nodes: queue, dead_letter",
        ),
        # A component the app does not have.
        (
            "aws",
            '{"job": {"queue": lambda a, o, n: None}}',
            "transform names 'job', which is no component of the app; did you mean 'jobs'?",
        ),
        # An argument the generated resource's class does not take (SNS topics have no TTL).
        (
            "aws",
            '{"events": {"topic": lambda a, o, n: a.update(default_message_time_to_live="P1D")}}',
            "Topic 'events' on aws: the transform of node 'topic' gives Topic 'shop-events' what it does not take",
        ),
        # Not a function.
        (
            "gcp",
            '{"orders": {"database": "FIRESTORE"}}',
            "transform['database'] is str; give a function",
        ),
    ],
)
def test_a_wrong_transform_is_one_line_naming_the_component_and_its_nodes(
    tmp_path, cloud, transform, expected
):
    with pytest.raises(ProgramError) as err:
        run_preview(project(tmp_path, main=_main_with(transform)), cloud, "dev")
    message = str(err.value)
    assert "\n" not in message and expected in message


def test_an_app_wide_node_is_transformed_through_the_app(tmp_path):
    """The App's own nodes are the provider's shared resources (here Azure's Service Bus namespace)."""
    main = _main_with('{"bus": lambda args, opts, name: args.update(zone_redundant=True)}')
    plain = run_preview(project(tmp_path / "plain"), "azure", "dev")
    changed = run_preview(project(tmp_path / "changed", main=main), "azure", "dev")
    (bus,) = changed.of_type("azure-native:servicebus:Namespace")
    assert bus.props["zoneRedundant"] is True
    before = {r.urn: r.as_json() for r in plain.resources}
    assert [r.urn for r in changed.resources if before[r.urn] != r.as_json()] == [bus.urn]
