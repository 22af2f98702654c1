"""Avro resolution rules: which schema changes a new reader survives, and the reasons it gives when it does not."""

import pytest

from infra.avro.parsed_schema import MalformedSchema, parse
from infra.registry.compatibility import directions, read_problems


def record(*fields: dict, name: str = "OrderPlaced", **extra) -> dict:
    return {"type": "record", "name": name, "namespace": "orders", "fields": list(fields), **extra}


def field(name: str, type_, **extra) -> dict:
    return {"name": name, "type": type_, **extra}


def reasons(writer: dict, reader: dict, new_is_reader: bool = True) -> list[str]:
    return [p.explain(new_is_reader) for p in read_problems(parse(writer), parse(reader))]


V1 = record(field("order_id", "string"), field("currency", "string"))


def test_an_unchanged_schema_reads_itself():
    assert reasons(V1, V1) == []


def test_a_field_added_with_a_default_reads_old_data():
    assert reasons(V1, record(*V1["fields"], field("channel", "string", default="web"))) == []


def test_a_field_added_without_a_default_cannot_read_old_data():
    assert reasons(V1, record(*V1["fields"], field("channel", "string"))) == ["field 'channel' added without a default"]


def test_a_removed_field_is_skipped_by_the_reader():
    assert reasons(V1, record(field("order_id", "string"))) == []


def test_string_changed_to_int_is_named_with_both_types():
    changed = record(field("order_id", "string"), field("currency", "int"))
    assert reasons(V1, changed) == ["field 'currency' changed type from string to int"]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("int", "long"),
        ("int", "double"),
        ("long", "float"),
        ("float", "double"),
        ("string", "bytes"),
        ("bytes", "string"),
    ],
)
def test_promotions_allowed_by_the_specification(old, new):
    assert reasons(record(field("n", old)), record(field("n", new))) == []


@pytest.mark.parametrize(("old", "new"), [("long", "int"), ("double", "float"), ("int", "string"), ("boolean", "int")])
def test_narrowing_or_unrelated_types_are_refused(old, new):
    assert reasons(record(field("n", old)), record(field("n", new))) == [f"field 'n' changed type from {old} to {new}"]


def test_a_rename_through_an_alias_reads_the_old_field():
    renamed = record(field("order_id", "string"), field("currency_code", "string", aliases=["currency"]))
    assert reasons(V1, renamed) == []


def test_a_rename_without_an_alias_or_default_is_a_missing_field():
    renamed = record(field("order_id", "string"), field("currency_code", "string"))
    assert reasons(V1, renamed) == ["field 'currency_code' added without a default"]


def test_forward_wording_when_the_old_schema_is_the_reader():
    slimmer = record(field("order_id", "string"))
    assert reasons(slimmer, V1, new_is_reader=False) == [
        "field 'currency' removed, but the older schema has no default for it"
    ]


def test_nested_record_fields_are_named_by_path():
    line = {"type": "record", "name": "OrderLine", "fields": [field("sku", "string"), field("quantity", "int")]}
    retyped = {**line, "fields": [field("sku", "string"), field("quantity", "string")]}
    old = record(field("lines", {"type": "array", "items": line}))
    new = record(field("lines", {"type": "array", "items": retyped}))
    assert reasons(old, new) == ["field 'lines[].quantity' changed type from int to string"]


def test_a_value_made_optional_reads_old_data_but_not_the_other_way_round():
    required = record(field("note", "string"))
    optional = record(field("note", ["null", "string"], default=None))
    assert reasons(required, optional) == []
    assert reasons(optional, required) == ["field 'note' changed type from union[null, string] to string"]


def test_a_union_branch_of_the_same_kind_explains_nested_problems():
    inner = {"type": "record", "name": "Address", "fields": [field("city", "string")]}
    grown = {**inner, "fields": [field("city", "string"), field("zip", "string")]}
    old = record(field("address", inner))
    new = record(field("address", ["null", grown], default=None))
    assert reasons(old, new) == ["field 'address.zip' added without a default"]


def test_enum_symbols_dropped_without_a_default_are_refused():
    old = record(field("status", {"type": "enum", "name": "Status", "symbols": ["PLACED", "CANCELLED"]}))
    new = record(field("status", {"type": "enum", "name": "Status", "symbols": ["PLACED"]}))
    assert reasons(old, new) == [
        "field 'status': enum symbols CANCELLED are not in the reader's symbols and it has no default"
    ]
    narrowed = {"type": "enum", "name": "Status", "symbols": ["PLACED"], "default": "PLACED"}
    with_default = record(field("status", narrowed))
    assert reasons(old, with_default) == []


def test_a_record_renamed_without_alias_is_a_different_type():
    assert reasons(V1, record(*V1["fields"], name="OrderAccepted")) == [
        "schema changed type from record orders.OrderPlaced to record orders.OrderAccepted"
    ]
    assert reasons(V1, record(*V1["fields"], name="OrderAccepted", aliases=["OrderPlaced"])) == []


def test_recursive_types_terminate():
    node = {"type": "record", "name": "Node", "fields": [field("next", ["null", "Node"], default=None)]}
    assert reasons(node, node) == []


def test_fixed_sizes_must_match():
    old = record(field("hash", {"type": "fixed", "name": "Hash", "size": 16}))
    new = record(field("hash", {"type": "fixed", "name": "Hash", "size": 32}))
    assert reasons(old, new) == ["field 'hash' changed type from fixed(16) to fixed(32)"]


def test_map_values_are_checked():
    old = record(field("tags", {"type": "map", "values": "string"}))
    new = record(field("tags", {"type": "map", "values": "int"}))
    assert reasons(old, new) == ["field 'tags{}' changed type from string to int"]


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("BACKWARD", (True, False, False)),
        ("backward_transitive", (True, False, True)),
        ("FORWARD", (False, True, False)),
        ("FULL_TRANSITIVE", (True, True, True)),
        ("NONE", (False, False, False)),
    ],
)
def test_compatibility_levels_name_the_directions_to_check(level, expected):
    assert directions(level) == expected


def test_an_unknown_level_is_refused():
    with pytest.raises(ValueError, match="unknown compatibility level 'SIDEWAYS'"):
        directions("SIDEWAYS")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"type": "record", "name": "X", "fields": [', "not JSON"),
        ('{"type": "record", "name": "X", "fields": [{"name": "a", "type": "strng"}]}', "unknown type strng"),
        ('{"type": "record", "name": "X", "fields": [{"name": "a", "type": "string", "default": 3}]}', "(?i)default"),
    ],
)
def test_malformed_schemas_are_refused_with_a_reason(text, message):
    with pytest.raises(MalformedSchema, match=message):
        parse(text)
