"""Field-level differences between two versions of a record schema: added, removed, retyped, defaults, aliases."""

import json
from dataclasses import asdict, dataclass
from typing import Any

from infra.avro.parsed_schema import AvroSchema, describe, kind

NO_DEFAULT = "no default"


@dataclass(frozen=True)
class Change:
    """One difference; `field` is a dotted path (`lines[].sku` for a field of an array's records)."""

    field: str
    change: str  # added, removed, type, default, aliases, symbols, name
    before: str
    after: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def diff(old: AvroSchema, new: AvroSchema) -> list[Change]:
    """What changed from `old` to `new`, in field order: the old schema's fields first, then the added ones."""
    changes: list[Change] = []
    if kind(old.root) == kind(new.root) == "record":
        _Comparison(old, new, changes).record(old.root, new.root, "")
    elif describe(old.root, old) != describe(new.root, new):
        changes.append(Change("", "type", describe(old.root, old), describe(new.root, new)))
    return changes


class _Comparison:
    def __init__(self, old: AvroSchema, new: AvroSchema, changes: list[Change]) -> None:
        self.old, self.new, self.changes = old, new, changes
        self._seen: set[tuple[str, str]] = set()

    def record(self, a: dict[str, Any], b: dict[str, Any], path: str) -> None:
        if (a["name"], b["name"]) in self._seen:
            return
        self._seen.add((a["name"], b["name"]))
        if a["name"] != b["name"]:
            self._add(path, "name", a["name"], b["name"])
        self._aliases(a, b, path)
        before = {f["name"]: f for f in a["fields"]}
        after = {f["name"]: f for f in b["fields"]}
        # A field renamed through an alias is the same field, not a removal plus an addition.
        renamed = {alias: f["name"] for f in b["fields"] for alias in f.get("aliases", ()) if alias not in after}
        for name, field in before.items():
            successor = after.get(name) or after.get(renamed.get(name, ""))
            if successor is None:
                self._add(_join(path, name), "removed", describe(field["type"], self.old), "")
            else:
                self._field(field, successor, _join(path, successor["name"]))
        carried = set(before) | {renamed[n] for n in before if n in renamed}
        for name, field in after.items():
            if name not in carried:
                default = f"default {_default(field)}" if "default" in field else NO_DEFAULT
                self._add(_join(path, name), "added", "", f"{describe(field['type'], self.new)}, {default}")

    def _field(self, a: dict[str, Any], b: dict[str, Any], path: str) -> None:
        if a["name"] != b["name"]:
            self._add(path, "name", a["name"], b["name"])
        self._aliases(a, b, path)
        before, after = describe(a["type"], self.old), describe(b["type"], self.new)
        if before != after:
            self._add(path, "type", before, after)
        else:
            self._nested(a["type"], b["type"], path)
        if ("default" in a, a.get("default")) != ("default" in b, b.get("default")):
            self._add(path, "default", _default_of(a), _default_of(b))

    def _nested(self, a: Any, b: Any, path: str) -> None:
        a, b = self.old.resolve(a), self.new.resolve(b)
        what = kind(a)
        if what == "record":
            self.record(a, b, path)
        elif what == "array":
            self._nested(a["items"], b["items"], f"{path}[]")
        elif what == "map":
            self._nested(a["values"], b["values"], f"{path}{{}}")
        elif what == "enum" and a["symbols"] != b["symbols"]:
            self._add(path, "symbols", ", ".join(a["symbols"]), ", ".join(b["symbols"]))

    def _aliases(self, a: dict[str, Any], b: dict[str, Any], path: str) -> None:
        if sorted(a.get("aliases", ())) != sorted(b.get("aliases", ())):
            self._add(path, "aliases", ", ".join(a.get("aliases", ())), ", ".join(b.get("aliases", ())))

    def _add(self, field: str, change: str, before: str, after: str) -> None:
        self.changes.append(Change(field, change, before, after))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _default(field: dict[str, Any]) -> str:
    return json.dumps(field["default"])


def _default_of(field: dict[str, Any]) -> str:
    return _default(field) if "default" in field else NO_DEFAULT
