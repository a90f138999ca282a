"""One mapping of a built-in kind overridden from this package: Acme's Azure topics, picked by a
stack with `omnicloud:provider: acme-azure`; everything else is omnicloud's own Azure provider."""

from __future__ import annotations

import pytest

from omnicloud.preview import ProgramError, run_preview


def test_a_stack_naming_acme_azure_gets_acmes_topics_and_nothing_else_changes(shop, tmp_path):
    plain = run_preview(shop, "azure", "dev")
    stack = shop / "Pulumi.dev.yaml"
    stack.write_text(stack.read_text() + "  omnicloud:provider: acme-azure\n")
    acme = run_preview(shop, "azure", "dev")
    (topic,) = acme.of_type("azure-native:servicebus:Topic")
    assert topic.props["defaultMessageTimeToLive"] == "P1D"
    assert topic.props["requiresDuplicateDetection"] is True
    assert topic.props["duplicateDetectionHistoryTimeWindow"] == "PT10M"
    before = {r.urn: r.as_json() for r in plain.resources}
    assert sorted(before) == sorted(r.urn for r in acme.resources)
    assert [r.urn for r in acme.resources if before[r.urn] != r.as_json()] == [topic.urn]


def test_acme_azure_on_another_cloud_is_refused_naming_both(shop):
    stack = shop / "Pulumi.dev.yaml"
    stack.write_text(stack.read_text() + "  omnicloud:provider: acme-azure\n")
    with pytest.raises(ProgramError) as err:
        run_preview(shop, "aws", "dev")
    assert (
        "omnicloud:provider: 'acme-azure' deploys to 'azure', but omnicloud:cloud is 'aws'"
        in str(err.value)
    )
