"""The JSON Schema (Draft 2020-12) of app.yaml, for editors (yaml-language-server) and `omnicloud schema`.

Generated from the pydantic model, then adjusted to what the loader accepts: short forms of
`queue:`/`topic:`, `name: {}`-or-empty resource bodies, exactly one trigger, `x-` anchor keys.
"""

from __future__ import annotations

from typing import Any

from .model import NAME_MAX, NAME_PATTERN, TRIGGERS

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _names_as_property_names(node: Any) -> Any:
    """Pydantic writes constrained dict keys as patternProperties, which let other keys through."""
    if isinstance(node, list):
        return [_names_as_property_names(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _names_as_property_names(value) for key, value in node.items()}
    pattern_props = node.get("patternProperties")
    if node.get("type") == "object" and isinstance(pattern_props, dict) and len(pattern_props) == 1:
        (pattern, value_schema), = pattern_props.items()
        names = dict(node.get("propertyNames") or {})
        names["pattern"] = pattern
        node.pop("patternProperties")
        node["propertyNames"] = names
        node["additionalProperties"] = value_schema
    return node


def app_schema() -> dict[str, Any]:
    """The schema of app.yaml with every registered kind's section (installed packages' too)."""
    from omnicloud.registry import registry

    kinds = registry()
    schema = _names_as_property_names(kinds.app_model().model_json_schema(mode="validation"))
    defs = schema["$defs"]
    defs["Name"] = {"type": "string", "pattern": NAME_PATTERN, "minLength": 1, "maxLength": NAME_MAX,
                    "description": "portable name: lowercase letters, digits and single hyphens, starting with a letter"}
    function = defs["FunctionSpec"]
    props = function["properties"]
    for key, ref, example in (("queue", "QueueTrigger", "task-queue"), ("topic", "TopicTrigger", "events")):
        props[key] = {"description": f"`{key}: {example}` or the mapping form",
                      "anyOf": [{"$ref": "#/$defs/Name"}, {"$ref": f"#/$defs/{ref}"}]}
    for key in ("http", "schedule"):
        props[key] = {k: v for k, v in props[key].items() if k not in ("anyOf", "default")} | {"type": "string"}
    props["http"]["pattern"] = r"^/([A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*)?/?$"
    props["env"]["additionalProperties"] = {"type": ["string", "integer"]}
    props["links"]["additionalProperties"] = {"items": {"enum": list(kinds.verbs()), "type": "string"},
                                              "type": "array"}
    function["oneOf"] = [{"required": [trigger]} for trigger in TRIGGERS]
    for kind in kinds.resource_kinds():
        # `events:` with no body means all defaults.
        ref = kind.model.__name__
        schema["properties"][kind.section]["additionalProperties"] = {"anyOf": [{"$ref": f"#/$defs/{ref}"},
                                                                                {"type": "null"}]}
    schema["patternProperties"] = {"^x-": {"description": "ignored; a place for YAML anchors (&defaults)"}}
    return {"$schema": DRAFT, "$id": "https://omnicloud.dev/app.schema.json", "title": "omnicloud app.yaml",
            **{k: v for k, v in schema.items() if k != "title"}}
