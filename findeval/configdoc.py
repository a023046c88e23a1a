"""The config reference, docs/config.md, generated from the schema (issue 24, item 6).

``python -m findeval.configdoc > docs/config.md`` writes it; ``python -m findeval.configdoc --check`` exits 1 when
docs/config.md is not what the schema gives (``tests/test_readme.py`` runs the same comparison). One row per key
of ``schemas/config.schema.yaml``: its description, what it allows, the schema's default (what a config that
leaves it out gets), its value in ``config.yaml`` (the default experiment) and in the paper preset
``config/resnet50-tinyimagenet.yaml`` (both validated, so with the schema's defaults filled in). Nothing in the
page is written by hand: a new key, default or description shows up after a regeneration, and a stale page fails
the test.

Torch-free (yaml and the schema validator only).
"""

from __future__ import annotations

import copy
import os
import sys

from findeval.workflow import load_yaml_file, precheck_file, resolve_schema, validate_file

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA = os.path.join(REPO, "schemas", "config.schema.yaml")
DOC = os.path.join(REPO, "docs", "config.md")
#: the configs whose values the page shows, with their column titles
COLUMNS = (("config.yaml", "config.yaml"), ("config/resnet50-tinyimagenet.yaml", "paper preset"))
#: objects whose keys are one value (an H, a find/eval pair): one row, not one per key
ATOMIC = ({"lr", "batch_size", "weight_decay"}, {"find", "eval"})
_MISSING = object()


def _resolve(node: dict, root: dict) -> dict:
    node = resolve_schema(node, root)
    if "anyOf" in node:  # a nullable reference: the non-null branch's keys
        branches = [resolve_schema(b, root) for b in node["anyOf"] if b.get("type") != "null"]
        if len(branches) == 1:
            node = {**branches[0], **{k: v for k, v in node.items() if k != "anyOf"}}
    return node


def fmt(value) -> str:
    """A value as one would write it in YAML flow style."""
    if value is _MISSING:
        return ""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {fmt(v)}" for k, v in value.items()) + "}"
    return str(value)


def allowed(node: dict) -> str:
    """What a key accepts: its enum, or its types with their bounds."""
    if "enum" in node:
        return ", ".join(fmt(v) for v in node["enum"])
    types = node.get("type")
    if types is None and "anyOf" in node:
        types = [b.get("type", "object") for b in node["anyOf"]]
    types = [types] if isinstance(types, str) else list(types or [])
    bounds = []
    for key, sign in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<"),
                      ("minItems", "items >="), ("maxItems", "items <=")):
        if key in node:
            bounds.append(f"{sign} {fmt(node[key])}")
    text = " or ".join(str(t) for t in types)
    return f"{text} ({', '.join(bounds)})" if bounds else text


def _get(config, path):
    for key in path:
        if not isinstance(config, dict) or key not in config:
            return _MISSING
        config = config[key]
    return config


def rows(schema: dict, configs: list[dict]) -> list[dict]:
    """One row per documented key, in the schema's order."""
    out = []

    def walk(node: dict, path: tuple, default):
        node = _resolve(node, schema)
        props = node.get("properties") or {}
        # an H or a find/eval pair of plain values is one value: one row
        atomic = bool(props) and len(props) > 1 and any(set(props) <= a for a in ATOMIC) and not any(
            _resolve(p, schema).get("properties") for p in props.values())
        if path:
            d = node.get("default", default)
            out.append({"key": ".".join(path), "description": " ".join(str(node.get("description", "")).split()),
                        "allowed": allowed(node), "required": path[-1] in parent_required[-1],
                        "default": d, "values": [_get(c, path) for c in configs], "group": bool(props) and not atomic})
        if props and not atomic:
            parent_required.append(set(node.get("required", [])))
            for name, sub in props.items():
                sub_default = (default.get(name, _MISSING) if isinstance(default, dict) else _MISSING)
                walk(sub, path + (name,), sub_default)
            parent_required.pop()

    parent_required = [set(schema.get("required", []))]
    walk(schema, (), _MISSING)
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def load_configs() -> list[dict]:

    configs = []
    for path, _ in COLUMNS:
        raw = load_yaml_file(os.path.join(REPO, path))
        configs.append(validate_file(precheck_file(copy.deepcopy(raw), SCHEMA), SCHEMA))
    return configs


def render(schema: dict | None = None, configs: list[dict] | None = None) -> str:

    schema = load_yaml_file(SCHEMA, "schema", strict=False) if schema is None else schema
    configs = load_configs() if configs is None else configs
    head = ["key", "meaning", "allowed", "schema default", *(title for _, title in COLUMNS)]
    lines = [
        "# Config keys",
        "",
        "<!-- Generated by `python -m findeval.configdoc > docs/config.md` from schemas/config.schema.yaml; do not",
        "edit by hand (tests/test_readme.py fails when this page is stale). -->",
        "",
        "Every key of `schemas/config.schema.yaml`, in its order. The \"schema default\" column is what a config gets",
        "when it leaves a key out (the schema fills it in; \"required\" keys have none); the next columns are the",
        "values in effect in `config.yaml` (the default experiment, a digits miniature) and in the paper preset",
        "`config/resnet50-tinyimagenet.yaml` (ResNet-50 on Tiny ImageNet), defaults filled in. A config written from",
        "scratch gets the schema's defaults, not config.yaml's: leaving out `dataset.augment`, for instance, turns on",
        "RandomResizedCrop + flips. Rows in bold are blocks; their keys follow.",
        "",
        "Unknown keys and wrong types are errors, with a did-you-mean for misspelt keys and values; numbers written as",
        "`5e-4` (a string to PyYAML) are accepted. What the keys of the analyses do is in",
        "[analyses.md](analyses.md); `python -m findeval.workflow CONFIG` checks a config without running anything.",
        "",
        "| " + " | ".join(head) + " |",
        "| " + " | ".join("---" for _ in head) + " |",
    ]
    for r in rows(schema, configs):
        key = f"**`{r['key']}`**" if r["group"] else f"`{r['key']}`"
        default = "required" if r["required"] and r["default"] is _MISSING else fmt(r["default"])
        values = [fmt(v) for v in r["values"]]
        if r["group"]:  # a block: its own default only where it has one, its value only where it is null
            default = default if default == "required" or r["default"] not in (_MISSING, {}) else ""
            values = ["null" if v is None else "" for v in r["values"]]
        cells = [key, r["description"], r["allowed"], default, *values]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    text = render()
    if argv == ["--check"]:
        try:
            with open(DOC) as fh:
                current = fh.read()
        except FileNotFoundError:
            current = ""
        if current != text:
            print(f"{DOC} is stale: regenerate it with `python -m findeval.configdoc > docs/config.md`",
                  file=sys.stderr)
            return 1
        print(f"{DOC}: up to date")
        return 0
    if argv:
        print("usage: python -m findeval.configdoc [--check]  (writes the page to stdout)", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
