"""Avro's schema resolution rules: whether a reader schema can read what a writer schema wrote, and why not."""

from dataclasses import dataclass
from typing import Any

from infra.avro.parsed_schema import NAMED, AvroSchema, describe, kind, short_name

# Writer type -> reader types it is promoted to (Avro specification, "Schema Resolution").
PROMOTIONS = {
    "int": {"long", "float", "double"},
    "long": {"float", "double"},
    "float": {"double"},
    "string": {"bytes"},
    "bytes": {"string"},
}
LEVELS = (
    "NONE",
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
)


@dataclass(frozen=True)
class Incompatibility:
    """One reason a reader cannot read a writer's data; `old`/`new` are worded for the change new-over-old."""

    field: str  # dotted path of the field ("" for the schema itself); `[]` marks array items, `{}` map values
    problem: str  # "missing", "type", "name", "symbols" or "size"
    writer: str
    reader: str

    def explain(self, new_is_reader: bool = True) -> str:
        old, new = (self.writer, self.reader) if new_is_reader else (self.reader, self.writer)
        where = f"field '{self.field}'" if self.field else "schema"
        if self.problem == "missing":
            if new_is_reader:
                return f"{where} added without a default"
            return f"{where} removed, but the older schema has no default for it"
        if self.problem == "symbols":
            return f"{where}: enum symbols {self.writer} are not in the reader's symbols and it has no default"
        return f"{where} changed type from {old} to {new}"


def read_problems(writer: AvroSchema, reader: AvroSchema) -> list[Incompatibility]:
    """Everything that stops `reader` from reading data written with `writer` (empty: it can)."""
    problems: list[Incompatibility] = []
    _Resolution(writer, reader, problems).check(writer.root, reader.root, "")
    return problems


def directions(level: str) -> tuple[bool, bool, bool]:
    """(new reads old, old reads new, against every version rather than the latest) for a compatibility level."""
    level = level.upper()
    if level not in LEVELS:
        raise ValueError(f"unknown compatibility level {level!r}; known: {', '.join(LEVELS)}")
    backward = level.startswith(("BACKWARD", "FULL"))
    forward = level.startswith(("FORWARD", "FULL"))
    return backward, forward, level.endswith("_TRANSITIVE")


class _Resolution:
    def __init__(
        self,
        writer: AvroSchema,
        reader: AvroSchema,
        problems: list[Incompatibility],
        seen: set[tuple[str, str]] | None = None,
    ) -> None:
        self.writer, self.reader, self.problems = writer, reader, problems
        # Record pairs under check (a trial gets a copy): a recursive type stops where it started.
        self._seen = seen if seen is not None else set()

    def check(self, w: Any, r: Any, path: str) -> None:
        w, r = self.writer.resolve(w), self.reader.resolve(r)
        wk, rk = kind(w), kind(r)
        if wk == "union":
            self._writer_union(w, r, path)
        elif rk == "union":
            self._reader_union(w, r, path)
        elif wk == rk or {wk, rk} == {"record", "error"}:
            self._same_kind(w, r, wk, path)
        elif rk not in PROMOTIONS.get(wk, ()):
            self._add(path, "type", w, r)

    def _writer_union(self, w: list[Any], r: Any, path: str) -> None:
        # Every branch the writer may have used must be readable; a branch of another kind is a type change.
        for branch in w:
            trial = self._trial(branch, r, path)
            if trial and kind(self.writer.resolve(branch)) == kind(r):
                self.problems.extend(trial)
            elif trial:
                self._add(path, "type", w, r)
                return

    def _reader_union(self, w: Any, r: list[Any], path: str) -> None:
        if any(self._readable(w, branch, path) for branch in r):
            return
        # No branch reads it: explain through the branch of the same kind, if the union has one.
        alike = [branch for branch in r if kind(self.reader.resolve(branch)) == kind(w)]
        if alike:
            self.check(w, alike[0], path)
        else:
            self._add(path, "type", w, r)

    def _trial(self, w: Any, r: Any, path: str) -> list[Incompatibility]:
        trial: list[Incompatibility] = []
        _Resolution(self.writer, self.reader, trial, set(self._seen)).check(w, r, path)
        return trial

    def _readable(self, w: Any, r: Any, path: str) -> bool:
        return not self._trial(w, r, path)

    def _same_kind(self, w: Any, r: Any, what: str, path: str) -> None:
        if what in NAMED and not _names_match(w, r):
            self._add(path, "type", w, r)
        elif what in ("record", "error"):
            self._record(w, r, path)
        elif what == "enum":
            missing = [s for s in w["symbols"] if s not in r["symbols"]]
            if missing and "default" not in r:
                self.problems.append(Incompatibility(path, "symbols", ", ".join(missing), ", ".join(r["symbols"])))
        elif what == "fixed" and w["size"] != r["size"]:
            self.problems.append(Incompatibility(path, "size", f"fixed({w['size']})", f"fixed({r['size']})"))
        elif what == "array":
            self.check(w["items"], r["items"], f"{path}[]")
        elif what == "map":
            self.check(w["values"], r["values"], f"{path}{{}}")

    def _record(self, w: dict[str, Any], r: dict[str, Any], path: str) -> None:
        pair = (w["name"], r["name"])
        if pair in self._seen:
            return
        self._seen.add(pair)
        written = {f["name"]: f for f in w["fields"]}
        for field in r["fields"]:
            field_path = f"{path}.{field['name']}" if path else field["name"]
            # The reader's aliases name the writer's field when the field was renamed.
            source = next((written[n] for n in (field["name"], *field.get("aliases", ())) if n in written), None)
            if source is None:
                if "default" not in field:
                    self.problems.append(Incompatibility(field_path, "missing", "absent", "no default"))
            else:
                self.check(source["type"], field["type"], field_path)

    def _add(self, path: str, problem: str, w: Any, r: Any) -> None:
        self.problems.append(Incompatibility(path, problem, describe(w, self.writer), describe(r, self.reader)))


def _names_match(w: dict[str, Any], r: dict[str, Any]) -> bool:
    # Unqualified matches are allowed, as Avro's own implementations do for nested types.
    names = {w["name"], short_name(w["name"])}
    aliases = {r["name"], short_name(r["name"]), *r.get("aliases", ())}
    return bool(names & (aliases | {short_name(a) for a in aliases}))
