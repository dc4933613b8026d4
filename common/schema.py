"""The configuration language: `Key` (one value: its type, range, choices), `Section` (a mapping of keys) and
`Choose` (a section whose keys depend on a discriminator), the builders' argument types (`PositiveInt`, ...), and
`check_section`, which collects every problem of a mapping against such a schema (one line each). What a recipe's
config holds is in common/config.py; a task's own sections in its module (`Task.config_schema`)."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Annotated, Callable


@dataclass(frozen=True)
class Key:
    """One value: `kind` is int, number, str, bool, list, mapping or import ('package.module:function');
    ranges (ge/gt/le/lt), `choices` (a tuple, or a function returning one), a list's `item` rule and length."""
    kind: str
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple | Callable[[], tuple] | None = None
    optional: bool = False
    nullable: bool = False
    item: "Key | Section | None" = None
    length: int | None = None
    min_length: int | None = None


@dataclass(frozen=True)
class Section:
    keys: dict
    optional: bool = False


@dataclass(frozen=True)
class Choose:
    """A section whose keys depend on a discriminator: `by` is a key of this section, or a dotted path from the
    top of the config (e.g. frontend.type)."""
    by: str
    variants: dict
    optional: bool = False


INT_POS, INT_NONNEG = Key("int", ge=1), Key("int", ge=0)
NUM_POS, NUM_NONNEG = Key("number", gt=0), Key("number", ge=0)
TEXT, OPT_TEXT = Key("str"), Key("str", optional=True)
LABELS = Key("list", item=Key("str"), min_length=2)


def optional(key: Key) -> Key:
    return replace(key, optional=True)


# argument types for model builders (common.builders reads the Key of each): `num_classes: Classes = 12`
Classes = Annotated[int, Key("int", ge=2)]
PositiveInt = Annotated[int, INT_POS]
PositiveNumber = Annotated[float, NUM_POS]
Dropout = Annotated[float, Key("number", ge=0, lt=1)]
Negative = Annotated[float, Key("number", lt=0)]


def describe(key: Key) -> str:
    kind = {"int": "an integer", "number": "a number", "str": "a string", "bool": "true or false",
            "list": "a list", "mapping": "a mapping", "import": "'package.module:function'"}[key.kind]
    parts = [kind]
    for op, bound in ((">=", key.ge), (">", key.gt), ("<=", key.le), ("<", key.lt)):
        if bound is not None:
            parts.append(f"{op} {bound:g}")
    choices = key.choices() if callable(key.choices) else key.choices
    if choices:
        parts = [f"one of {', '.join(str(c) for c in choices)}"]
    if key.length is not None:
        parts.append(f"of {key.length} items")
    if key.min_length:
        parts.append(f"of at least {key.min_length} item{'s' if key.min_length > 1 else ''}")
    if key.nullable:
        parts.append("or null")
    return " ".join(parts)


def is_kind(value, kind: str) -> bool:
    if isinstance(value, bool):
        return kind == "bool"
    return {"int": isinstance(value, int), "number": isinstance(value, (int, float)),
            "str": isinstance(value, str), "bool": False, "list": isinstance(value, list),
            "mapping": isinstance(value, dict),
            "import": isinstance(value, str) and value.count(":") == 1 and all(value.split(":"))}[kind]


def check_value(path: str, value, key: Key, problems: list[str]) -> None:
    if value is None and key.nullable:
        return
    bad = f"{path} = {value!r}: must be {describe(key)}"
    if not is_kind(value, key.kind) or (key.kind == "number" and not math.isfinite(value)):   # NaN, .inf
        problems.append(bad)
        return
    choices = key.choices() if callable(key.choices) else key.choices
    if choices is not None and value not in choices:
        problems.append(bad)
        return
    if key.kind in ("int", "number") and ((key.ge is not None and value < key.ge) or
                                          (key.gt is not None and value <= key.gt) or
                                          (key.le is not None and value > key.le) or
                                          (key.lt is not None and value >= key.lt)):
        problems.append(bad)
        return
    if key.kind == "list":
        if (key.length is not None and len(value) != key.length) or (key.min_length and len(value) < key.min_length):
            problems.append(bad)
            return
        for i, item in enumerate(value):
            if isinstance(key.item, Section):
                check_section(f"{path}[{i}]", item, key.item.keys, problems, None)
            elif key.item is not None:
                check_value(f"{path}[{i}]", item, key.item, problems)


def lookup(cfg: dict, dotted: str):
    node = cfg
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def check_section(path: str, node, keys: dict, problems: list[str], root: dict | None) -> None:
    if not isinstance(node, dict):
        problems.append(f"{path} = {node!r}: must be a section (a mapping of keys)")
        return
    for name in sorted(set(node) - set(keys)):
        problems.append(f"{path + '.' if path else ''}{name}: unknown key (allowed here: {', '.join(sorted(keys))})")
    for name, rule in keys.items():
        where = f"{path}.{name}" if path else name
        if name not in node:
            if not rule.optional:
                problems.append(f"{where}: missing (required)")
            continue
        value = node[name]
        if isinstance(rule, Section):
            check_section(where, value, rule.keys, problems, root)
        elif isinstance(rule, Choose):
            if not isinstance(value, dict):
                problems.append(f"{where} = {value!r}: must be a section (a mapping of keys)")
                continue
            which = lookup(root, rule.by) if "." in rule.by else value.get(rule.by)
            if which not in rule.variants:
                problems.append(f"{rule.by if '.' in rule.by else where + '.' + rule.by} = {which!r}: must be one "
                                f"of {', '.join(rule.variants)}")
                continue
            check_section(where, value, rule.variants[which], problems, root)
        else:
            check_value(where, value, rule, problems)
