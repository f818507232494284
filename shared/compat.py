"""The compatibility rules of the published contract, as a pure function.

`breaches(published, current)` compares what was published for one event type version (its data
schema, topic and key, as committed under docs/contract/schemas/) with what the models now say,
and returns every change that would break a consumer of that version, each naming the field and
the rule. The rules, and why each protects a consumer, are written down in
docs/contract/README.md; the numbers here are the numbers there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Rule number → the rule, as docs/contract/README.md words it.
RULES: dict[int, str] = {
    1: "a field consumers may read is never removed or renamed",
    2: "a field's type and values are never narrowed (records already on the topic must stay valid)",
    3: "a field never takes a new JSON type (consumers' code has not met it)",
    4: "a field that was always present stays always present",
    5: "a new field is optional (records already on the topic do not have it)",
    6: "an event type version stays on its topic with the same key",
    7: "an event type version stays published until its successor has been beside it long enough",
}

Schema = dict[str, Any]


@dataclass(frozen=True)
class Breach:
    """One change that would break a consumer: where, which rule, and what happened."""

    event_type: str
    where: str
    rule: int
    change: str

    def __str__(self) -> str:
        return (
            f"{self.event_type}: {self.where} {self.change}; breaks rule {self.rule}, {RULES[self.rule]}: "
            f"publish {next_version(self.event_type)} beside it instead (docs/contract/README.md)"
        )


def next_version(event_type: str) -> str:
    """`herald.feed.moved.v1` → `herald.feed.moved.v2`."""
    base, _, version = event_type.rpartition(".v")
    return f"{base}.v{int(version) + 1}" if version.isdigit() else f"{event_type}.v2"


def breaches(published: Schema, current: Schema | None) -> list[Breach]:
    """What in `current` (None: the type version is gone) breaks consumers of `published`.

    Both are data schemas carrying `x-cloudevents-type`, `x-herald-topic` and `x-herald-key`."""
    event_type = published.get("x-cloudevents-type", "(envelope)")
    if current is None:
        return [Breach(event_type, "the type version", 7, "is no longer published")]
    found: list[Breach] = []
    for attribute, what in (("x-herald-topic", "topic"), ("x-herald-key", "key")):
        if published.get(attribute) != current.get(attribute):
            found.append(
                Breach(
                    event_type,
                    f"its {what}",
                    6,
                    f"changed from {published.get(attribute)!r} to {current.get(attribute)!r}",
                )
            )
    walk = _Walk(event_type, published.get("$defs", {}), current.get("$defs", {}), found)
    walk.compare(published, current, "data")
    return found


class _Walk:
    """One comparison: follows `$defs` references on both sides, each pair once."""

    def __init__(self, event_type: str, old_defs: Schema, new_defs: Schema, found: list[Breach]) -> None:
        self.event_type = event_type
        self.old_defs, self.new_defs = old_defs, new_defs
        self.found = found
        self.seen: set[tuple[int, int]] = set()

    def breach(self, where: str, rule: int, change: str) -> None:
        self.found.append(Breach(self.event_type, where, rule, change))

    def compare(self, old: Schema, new: Schema, where: str) -> None:
        old, new = _resolve(old, self.old_defs), _resolve(new, self.new_defs)
        if (id(old), id(new)) in self.seen:
            return
        self.seen.add((id(old), id(new)))
        old_types, new_types = _types(old, self.old_defs), _types(new, self.new_defs)
        if "any" not in new_types:
            narrowed = sorted(old_types - new_types)
            if narrowed:
                self.breach(where, 2, f"no longer allows {', '.join(narrowed)}")
                return
        widened = {kind for kind in new_types - old_types if not kind.startswith("value:")}
        if "any" not in old_types and widened:
            self.breach(where, 3, f"now allows {', '.join(sorted(widened))}")
            return
        old, new = _object_of(old, self.old_defs), _object_of(new, self.new_defs)
        self._properties(old, new, where)
        old_items, new_items = _items_of(old, self.old_defs), _items_of(new, self.new_defs)
        if old_items is not None and new_items is not None:
            self.compare(old_items, new_items, f"{where}[]")

    def _properties(self, old: Schema, new: Schema, where: str) -> None:
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
        added = [name for name in new_props if name not in old_props]
        for name, old_prop in old_props.items():
            path = f"{where}.{name}"
            if name not in new_props:
                twin = next((other for other in added if _same(old_prop, new_props[other])), None)
                self.breach(path, 1, f"renamed to {twin!r}" if twin else "removed")
                continue
            if name in old_required and name not in new_required:
                self.breach(path, 4, "was always present, now optional")
            self.compare(old_prop, new_props[name], path)
        for name in added:
            if name in new_required:
                self.breach(f"{where}.{name}", 5, "is new and required")


def _resolve(schema: Schema, defs: Schema) -> Schema:
    ref = schema.get("$ref")
    for prefix in ("#/$defs/", "#/components/schemas/"):
        if isinstance(ref, str) and ref.startswith(prefix):
            return defs.get(ref.removeprefix(prefix), {})
    return schema


def _options(schema: Schema, defs: Schema) -> list[Schema]:
    schema = _resolve(schema, defs)
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        return [option for choice in options for option in _options(choice, defs)]
    return [schema]


def _types(schema: Schema, defs: Schema) -> set[str]:
    """What a schema allows, coarsely: JSON types (`string:date-time` with a format), and for
    `const`/`enum` each value (`value:…`) instead of its type; `any` when it says nothing."""
    kinds: set[str] = set()
    for option in _options(schema, defs):
        if "const" in option:
            kinds.add(f"value:{option['const']!r}")
        elif "enum" in option:
            kinds |= {f"value:{value!r}" for value in option["enum"]}
        elif "type" in option:
            declared = option["type"] if isinstance(option["type"], list) else [option["type"]]
            fmt = option.get("format")
            kinds |= {f"{kind}:{fmt}" if fmt else kind for kind in declared}
        elif "properties" in option:
            kinds.add("object")
        else:
            kinds.add("any")
    return kinds


def _object_of(schema: Schema, defs: Schema) -> Schema:
    """The object option of a schema (`X | None` is X's object), else the schema itself."""
    objects = [option for option in _options(schema, defs) if "properties" in option]
    return objects[0] if len(objects) == 1 else _resolve(schema, defs)


def _items_of(schema: Schema, defs: Schema) -> Schema | None:
    arrays = [option["items"] for option in _options(schema, defs) if "items" in option]
    return arrays[0] if len(arrays) == 1 else None


def _same(old: Schema, new: Schema) -> bool:
    """Whether two property schemas are the same but for their title (a renamed field's twin)."""

    def bare(schema: Schema) -> Schema:
        return {key: value for key, value in schema.items() if key not in ("title", "description")}

    return bare(old) == bare(new)
