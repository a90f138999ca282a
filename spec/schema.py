"""The JSON Schema of app.yaml, for editors (yaml-language-server) and `omnicloud schema`."""

from __future__ import annotations

from typing import Any

from .model import AppSpec


def app_schema() -> dict[str, Any]:
    schema = AppSpec.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "omnicloud app.yaml"
    # Short forms: `queue: name` and `topic: name` are accepted besides the mapping form.
    props = schema["$defs"]["FunctionSpec"]["properties"]
    for key, ref in (("queue", "QueueTrigger"), ("topic", "TopicTrigger")):
        props[key] = {"anyOf": [{"$ref": f"#/$defs/{ref}"}, {"$ref": "#/$defs/Name"}, {"type": "null"}],
                      "default": None, "description": props[key].get("description", "")}
    schema["$defs"]["Name"] = {"type": "string", "pattern": AppSpec.model_fields["name"].metadata[0].pattern
                               if hasattr(AppSpec.model_fields["name"].metadata[0], "pattern") else "^[a-z][a-z0-9-]*$"}
    return schema
