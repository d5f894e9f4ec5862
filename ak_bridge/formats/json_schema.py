"""JSON Schema (2020-12) of a national JSON format, generated from its mapping.

An integrator of a JSON format (Viet Nam eCoSys) otherwise learns its keys from our
``config/formats/*.toml``. The schema is derived from the compiled :class:`MappedCodec`,
the same object that decodes, so it names exactly the keys the codec reads: mandatory
leaves are ``required`` (non-empty), converter tokens are ``enum``, dates carry their
pattern. Unknown keys stay allowed, as the codec ignores them. Business rules (dates in
order, RVC with its percentage...) are beyond any schema: the bridge's answer names them.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from ak_bridge.formats.mapped import MappedCodec, _Converter, _Field, _Group

DRAFT = "https://json-schema.org/draft/2020-12/schema"
_STRFTIME = {"%d": "[0-9]{2}", "%m": "[0-9]{2}", "%Y": "[0-9]{4}", "%y": "[0-9]{2}"}


def _date_pattern(fmt: str) -> str:
    out = ""
    i = 0
    while i < len(fmt):
        token = fmt[i : i + 2]
        if token in _STRFTIME:
            out += _STRFTIME[token]
            i += 2
        else:
            out += "\\" + fmt[i] if not fmt[i].isalnum() else fmt[i]
            i += 1
    return f"^{out}$"


def _converted(conv: _Converter) -> dict[str, Any]:
    if conv.type == "bool":
        return {"enum": [conv.true, conv.false]}
    if conv.type == "enum":
        return {"enum": list(conv.codes.values())}
    if conv.type == "date":
        return {"type": "string", "pattern": _date_pattern(conv.fmt)}
    if conv.type == "decimal":
        sep = "\\" + conv.separator if not conv.separator.isalnum() else conv.separator
        return {"type": "string", "pattern": f"^[0-9]+({sep}[0-9]+)?$"}
    return {"type": ["integer", "string"], "pattern": "^[0-9]{1,18}$"}  # int


def _leaf(f: _Field) -> dict[str, Any]:
    if f.conv is not None:
        schema = _converted(f.conv)
    elif f.info.kind == "int":
        schema = {"type": "integer"}
    elif f.info.kind == "bool":
        schema = {"type": "boolean"}
    elif f.info.kind == "enum":
        schema = {"enum": list(f.info.choices)}
    elif f.info.kind == "date":
        schema = {"type": "string", "format": "date"}
    elif f.info.kind == "decimal":
        schema = {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$"}
    else:
        schema = {"type": "string", "minLength": 1}
    return {**schema, "description": f"box {f.box}: {f.info.path}"}


def _place(obj: dict[str, Any], steps: tuple[str, ...], schema: dict[str, Any], need: bool) -> None:
    """Put ``schema`` at ``steps`` below ``obj``, creating objects; mark the path required."""
    node = obj
    for step in steps[:-1]:
        if need:
            node.setdefault("required", [])
            if step not in node["required"]:
                node["required"].append(step)
        node = node.setdefault("properties", {}).setdefault(step, {"type": "object"})
    node.setdefault("properties", {})[steps[-1]] = schema
    if need:
        node.setdefault("required", []).append(steps[-1])


def _object(group: _Group) -> dict[str, Any]:
    obj: dict[str, Any] = {"type": "object"}
    for f in group.fields:
        _place(obj, f.steps, _leaf(f), f.info.mandatory)
    for child in group.children:
        rows = {"type": "array", "items": _object(child), "description": f"box {child.box}"}
        _place(obj, child.steps, rows, child.path == "items")
    return obj


def json_schema(codec: MappedCodec) -> dict[str, Any]:
    """The JSON Schema of ``codec``'s documents (a JSON format's only)."""
    if codec.kind != "json" or codec.marker_key is None:
        raise ValueError(f"{codec.name} is not a JSON format")
    root = _object(codec.tree)
    root["properties"] = {codec.marker_key: {"const": codec.marker_value}, **root["properties"]}
    root["required"] = [codec.marker_key, *root.get("required", [])]
    return {
        "$schema": DRAFT,
        "$id": f"urn:ak-bridge:formats:{codec.name}",
        "title": codec.title,
        **root,
    }
