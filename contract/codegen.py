"""Generates the TypeScript side of the contract: `python -m contract.codegen [--check]`.

The JSON Schemas in contract/schema/ and the shared names in contract/names.py are the source;
web/src/contract.gen.ts is written from them. `--check` exits 1 when the file on disk differs
(the unit tests run the same comparison), so a hand edit or a forgotten regeneration fails.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from contract import names
from contract.schema import SCHEMAS, load

ROOT = Path(__file__).resolve().parent.parent
TS_OUT = ROOT / "web" / "src" / "contract.gen.ts"

# The shared names the web client needs (every other name is server-side only).
TS_NAMES = (
    "STAGE_ATTRIBUTE",
    "ROLE_ATTRIBUTE",
    "PICTURE_ATTRIBUTE",
    "AVATAR_PATH",
    "AVATAR_URL_PARAM",
    "AGENT_NAME",
    "COMPOSER_AGENT_NAME",
    "BROADCAST_PLAYLIST",
    "BROADCAST_LIVE_PLAYLIST",
    "BROADCAST_LIVE_WINDOW_SEGMENTS",
    "BROADCAST_LOW_LIVE_PLAYLIST",
    "BROADCAST_LIVE_VARIANTS",
    "BROADCAST_VARIANTS",
    "BROADCAST_TIMELINE",
    "REACTIONS_TOPIC",
    "REACTION_EMOJI",
    "BROADCAST_STATE",
    "BROADCAST_REACTIONS",
    "BROADCAST_REACTIONS_SECONDS",
    "HANDS_TOPIC",
    "PAGE_GENERATION",
    "PAGE_GENERATION_HEADER",
    "REMOVED_RULE",
    "ROLE_CHANGED_RULE",
    "NOT_INVITED_RULE",
    "USER_BLOCKED_RULE",
    "TARGET_REMOVED_RULE",
    "HAND_RATE_LIMITED_RULE",
    "TOKEN_RATE_LIMITED_RULE",
)

_PRIMITIVES = {
    "string": "string",
    "number": "number",
    "integer": "number",
    "boolean": "boolean",
    "null": "null",
}


class SchemaError(ValueError):
    pass


def ts_type(node: dict[str, Any], ref: Callable[[str], str] | None = None) -> str:
    """The TypeScript type of one schema node: the subset of JSON Schema our contract uses, and the
    one pydantic writes into the API's OpenAPI document (const, anyOf/oneOf). `ref` names the type a
    `$ref` points at (default: a contract definition, `ref_name`)."""
    if "$ref" in node:
        return (ref or ref_name)(node["$ref"])
    if "const" in node:
        return json.dumps(node["const"])
    if "enum" in node:
        return " | ".join(json.dumps(v) for v in node["enum"])
    for union in ("anyOf", "oneOf"):
        if union in node:
            return " | ".join(dict.fromkeys(ts_type(option, ref) for option in node[union]))
    kind = node.get("type")
    if isinstance(kind, list):
        return " | ".join(ts_type({**node, "type": k}, ref) for k in kind)
    if kind == "array":
        item = ts_type(node["items"], ref)
        return f"({item})[]" if "|" in item else f"{item}[]"
    if kind == "object":
        if "properties" in node:
            return _object_body(node, indent="", ref=ref)
        extra = node.get("additionalProperties")
        value = ts_type(extra, ref) if isinstance(extra, dict) else "unknown"
        return f"Record<string, {value}>"
    if isinstance(kind, str) and kind in _PRIMITIVES:
        return _PRIMITIVES[kind]
    raise SchemaError(f"unsupported schema node: {node}")


def ref_name(ref: str) -> str:
    """The type a `$ref` names: `#/$defs/X`, or `<schema>.schema.json#/$defs/X` for a definition that
    lives in another contract schema (each is defined once and generated once, under its name), or
    `<schema>.schema.json` for a whole schema (its title)."""
    target, sep, pointer = ref.partition("#/$defs/")
    if not sep and ref.endswith(".schema.json") and ref.removesuffix(".schema.json") in SCHEMAS:
        # A whole contract schema (a document that holds a list of another): its title.
        title: str = load(ref.removesuffix(".schema.json"))["title"]
        return title
    if not sep or "/" in pointer:
        raise SchemaError(f"only $defs references are supported: {ref}")
    if target:
        schema_name = target.removesuffix(".schema.json")
        if (
            schema_name not in SCHEMAS
            or schema_name == target
            or pointer not in load(schema_name).get("$defs", {})
        ):
            raise SchemaError(f"no such contract definition: {ref}")
    return pointer


def _doc(node: dict[str, Any], indent: str) -> list[str]:
    text = node.get("description")
    if not text:
        return []
    body = " ".join(str(text).split()).replace("*/", "*\\/")
    return [f"{indent}/** {body} */"]


def _object_body(node: dict[str, Any], indent: str, ref: Callable[[str], str] | None = None) -> str:
    required = set(node.get("required", []))
    lines = ["{"]
    for key, prop in node["properties"].items():
        optional = "" if key in required else "?"
        lines += _doc(prop, indent + "  ")
        lines.append(f"{indent}  {key}{optional}: {ts_type(prop, ref)};")
    lines.append(f"{indent}}}")
    return "\n".join(lines)


def declaration(name: str, node: dict[str, Any], ref: Callable[[str], str] | None = None) -> list[str]:
    """One exported TypeScript type for the schema `node`, under `name`, with its description."""
    lines = _doc(node, "")
    if node.get("type") == "object" and "properties" in node:
        lines.append(f"export interface {name} {_object_body(node, indent='', ref=ref)}")
    else:
        lines.append(f"export type {name} = {ts_type(node, ref)};")
    return lines


def render_ts() -> str:
    out = [
        "// Generated by `python -m contract.codegen` from contract/schema/*.schema.json and",
        "// contract/names.py. Do not edit: change the schema or the names and regenerate.",
        "",
    ]
    for key in TS_NAMES:
        out.append(f"export const {key} = {json.dumps(getattr(names, key), ensure_ascii=False)};")
    for schema_name in SCHEMAS:
        schema = load(schema_name)
        out.append("")
        out += declaration(schema["title"], schema)
        for def_name, node in schema.get("$defs", {}).items():
            out.append("")
            out += declaration(def_name, node)
    return "\n".join(out) + "\n"


def write_or_check(out: Path, text: str, argv: list[str], *, command: str) -> int:
    """A generator's command line: write `text` to `out`, or with `--check` exit 1 when the file on
    disk differs (stale, or edited by hand), naming `command` that regenerates it."""
    if "--check" in argv:
        current = out.read_text(encoding="utf-8") if out.exists() else ""
        if current != text:
            print(f"{out} is out of date: run {command}", file=sys.stderr)
            return 1
        return 0
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}")
    return 0


def main(argv: list[str]) -> int:
    return write_or_check(TS_OUT, render_ts(), argv, command="python -m contract.codegen")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
