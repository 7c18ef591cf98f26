"""A pydantic schema as short text for the prompt, when the server cannot constrain the answer.

JSON mode and plain JSON-in-markdown put the schema in the prompt. The JSON
Schema document itself repeats titles, descriptions and `$ref` plumbing and
cost 750-1,900 prompt tokens per extraction on a llama.cpp server; this form
states only what the validator checks — keys, types, allowed values, numeric
bounds and list caps ("at most 5") — once per shared definition.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel


def schema_text(schema: type[BaseModel]) -> str:
    """`{"key": type, ...}` for the root, then one `Name = ...` line per shared definition."""
    doc = schema.model_json_schema()
    defs = doc.get("$defs", {})
    lines = [_render(doc, defs)]
    lines += [f"{name} = {_render(body, defs)}" for name, body in defs.items()]
    return "\n".join(lines)


def _render(node: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in node:
        return node["$ref"].rsplit("/", 1)[-1]
    if "const" in node:
        return json.dumps(node["const"])
    if "enum" in node:
        return " | ".join(json.dumps(v) for v in node["enum"])
    for key in ("anyOf", "oneOf"):
        if key in node:
            return " | ".join(_render(option, defs) for option in node[key])
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        return _object(node, defs)
    if kind == "array":
        return _array(node, defs)
    if kind in ("integer", "number"):
        return kind + _bounds(node)
    if kind == "string":
        cap = node.get("maxLength")
        return "string" + (f" (at most {cap} characters)" if cap is not None else "")
    if kind == "boolean":
        return "true | false"
    return "any JSON value"


def _object(node: dict[str, Any], defs: dict[str, Any]) -> str:
    required = set(node.get("required", ()))
    fields = [f"{json.dumps(k)}{'' if k in required else ' (optional)'}: {_render(v, defs)}"
              for k, v in node.get("properties", {}).items()]
    return "{" + ", ".join(fields) + "}"


def _array(node: dict[str, Any], defs: dict[str, Any]) -> str:
    low, high = node.get("minItems"), node.get("maxItems")
    if low is not None and high is not None:
        size = f"at least {low} and at most {high} items" if low != high else \
            f"exactly {low} items"
    elif high is not None:
        size = f"at most {high} items"
    elif low is not None:
        size = f"at least {low} items"
    else:
        size = ""
    item = _render(node.get("items", {}), defs)
    return f"list of ({item})" + (f", {size}" if size else "")


def _bounds(node: dict[str, Any]) -> str:
    low = node.get("minimum", node.get("exclusiveMinimum"))
    high = node.get("maximum", node.get("exclusiveMaximum"))
    if low is None and high is None:
        return ""
    return f" in [{'' if low is None else _num(low)}, {'' if high is None else _num(high)}]"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
