"""Field-level diffs: what a reviewer needs to see between two versions of a schema, not a text diff."""

from infra.avro.parsed_schema import parse
from infra.registry.diff import Change, diff


def record(*fields: dict, **extra) -> dict:
    return {"type": "record", "name": "OrderPlaced", "namespace": "orders", "fields": list(fields), **extra}


def field(name: str, type_, **extra) -> dict:
    return {"name": name, "type": type_, **extra}


def changes(old: dict, new: dict) -> list[tuple[str, str, str, str]]:
    return [(c.field, c.change, c.before, c.after) for c in diff(parse(old), parse(new))]


LINE = {"type": "record", "name": "OrderLine", "fields": [field("sku", "string"), field("quantity", "int")]}
V1 = record(field("currency", "string"), field("lines", {"type": "array", "items": LINE}), field("note", "string"))


def test_identical_schemas_have_no_changes():
    assert changes(V1, V1) == []


def test_a_doc_only_change_is_not_a_field_change():
    assert changes(V1, {**V1, "doc": "reworded"}) == []


def test_added_removed_and_retyped_fields():
    new = record(
        field("currency", "int"),
        field("lines", {"type": "array", "items": LINE}),
        field("channel", "string", default="web"),
    )
    assert changes(V1, new) == [
        ("currency", "type", "string", "int"),
        ("note", "removed", "string", ""),
        ("channel", "added", "", 'string, default "web"'),
    ]


def test_an_added_field_without_a_default_says_so():
    assert changes(V1, record(*V1["fields"], field("channel", "string"))) == [
        ("channel", "added", "", "string, no default")
    ]


def test_a_rename_through_an_alias_is_one_field_with_a_new_name():
    renamed = record(
        field("currency_code", "string", aliases=["currency"]),
        field("lines", {"type": "array", "items": LINE}),
        field("note", "string"),
    )
    assert changes(V1, renamed) == [
        ("currency_code", "name", "currency", "currency_code"),
        ("currency_code", "aliases", "", "currency"),
    ]


def test_defaults_set_changed_and_dropped():
    old = record(field("a", "string"), field("b", "string", default="x"), field("c", "string", default="y"))
    new = record(field("a", "string", default=""), field("b", "string", default="z"), field("c", "string"))
    assert changes(old, new) == [
        ("a", "default", "no default", '""'),
        ("b", "default", '"x"', '"z"'),
        ("c", "default", '"y"', "no default"),
    ]


def test_fields_of_nested_records_are_named_by_path():
    grown = {**LINE, "fields": [*LINE["fields"], field("gift", "boolean", default=False)]}
    lines = field("lines", {"type": "array", "items": grown})
    new = record(field("currency", "string"), lines, field("note", "string"))
    assert changes(V1, new) == [("lines[].gift", "added", "", "boolean, default false")]


def test_enum_symbols_and_record_aliases():
    old = record(field("status", {"type": "enum", "name": "Status", "symbols": ["A", "B"]}))
    new = record(field("status", {"type": "enum", "name": "Status", "symbols": ["A", "B", "C"]}), aliases=["Placed"])
    assert changes(old, new) == [("", "aliases", "", "Placed"), ("status", "symbols", "A, B", "A, B, C")]


def test_changes_serialise_for_json():
    assert Change("a", "added", "", "string").as_dict() == {
        "field": "a",
        "change": "added",
        "before": "",
        "after": "string",
    }
