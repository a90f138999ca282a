"""app.yaml is composed by libyaml when it can be: the same nodes, tags and positions as the
pure-Python parser, which still parses (and words the error for) anything libyaml refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from spec import loader

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted(
    [ROOT / "app.yaml", *ROOT.glob("examples/**/app.yaml"), *(Path(__file__).parent / "broken").glob("*.yaml")]
)
TRICKY = """\
name: shop  # a comment
functions:
  api: &api {handler: shop.web:app, http: /, memory: 0o1000, timeout: 1_0}
  copy:
    <<: *api
    env: {A: "quoted: value", B: 'single', C: ~, D: .inf, E: -0x1f, F: 1e3, G: yes, H: True}
    description: |
      line one
        line two
    note: >-
      folded
      text
  list: [1, 2.5, null, '', "\\u00e9"]
"""


def _shape(node: yaml.Node | None) -> object:
    if node is None:
        return None
    where = (node.start_mark.line, node.start_mark.column)
    if isinstance(node, yaml.ScalarNode):
        return (node.tag, node.value, where)
    if isinstance(node, yaml.SequenceNode):
        return (node.tag, where, [_shape(child) for child in node.value])
    return (node.tag, where, [(_shape(key), _shape(value)) for key, value in node.value])


def _python_tree(text: str) -> yaml.Node | None:
    composer = loader._Composer(text)
    try:
        return composer.get_single_node()
    finally:
        composer.dispose()


@pytest.mark.skipif(loader._CParser is None, reason="PyYAML without libyaml: only the pure-Python parser runs")
@pytest.mark.parametrize("text", [TRICKY, *(p.read_text(encoding="utf-8") for p in DOCUMENTS)],
                         ids=["tricky", *(p.relative_to(ROOT).as_posix() for p in DOCUMENTS)])
def test_libyaml_composes_what_the_python_parser_composes(text):
    try:
        expected = _shape(_python_tree(text))
    except yaml.YAMLError:
        # Broken YAML: libyaml must give up too, leaving the error to the pure-Python parser.
        assert loader._compose_with_libyaml(text) is None
        return
    assert _shape(loader._compose_with_libyaml(text)) == expected


def test_a_character_yaml_forbids_is_reported_where_it_is(tmp_path):
    path = tmp_path / "app.yaml"
    path.write_text("name: shop\nfunctions: {}\nx: \x07\n", encoding="utf-8")
    with pytest.raises(loader.SpecError) as raised:
        loader.read_document(path)
    assert [str(p) for p in raised.value.problems] == [
        f"{path}:3:4: (yaml): character #x0007 is not allowed in YAML; remove it"]
