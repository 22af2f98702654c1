"""The consumers' declared reads against the local schemas: today's all hold, and a field taken away names exactly
the projections and sagas that read it, one line each, in the report `streamkeep schemas check` prints."""

import json
import shutil
from pathlib import Path

from infra.avro.parsed_schema import parse
from infra.registry.check import CheckReport, check_local_files
from infra.registry.consumers import broken_reads, consumers, has_field
from infra.registry.local_files import read_local_schemas
from projections.catalogue import PROJECTIONS
from tests.platform import ROOT

SCHEMAS = ROOT / "schemas"


def schemas_copy(tmp_path: Path, subject: str, without: str) -> Path:
    """The repository's schemas, with one field taken out of one record (`lines.sku`: out of each line)."""
    folder = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, folder)
    path = folder / f"{subject}.avsc"
    schema = json.loads(path.read_text())
    *outer, name = without.split(".")
    record = schema
    for step in outer:
        record = next(f for f in record["fields"] if f["name"] == step)["type"]["items"]
    record["fields"] = [f for f in record["fields"] if f["name"] != name]
    path.write_text(json.dumps(schema))
    return folder


def report_lines(folder: Path) -> list[str]:
    report = CheckReport()
    check_local_files(read_local_schemas(folder), report, folder)
    return [str(failure) for failure in report.failures]


def test_every_projection_and_the_saga_declare_reads_that_todays_schemas_have() -> None:
    declared = consumers()

    assert set(PROJECTIONS) | {"fulfilment saga"} == set(declared)
    assert all(reads for reads in declared.values())
    assert broken_reads(read_local_schemas(SCHEMAS), SCHEMAS) == []
    assert report_lines(SCHEMAS) == []


def test_a_field_taken_away_names_each_consumer_that_reads_it(tmp_path: Path) -> None:
    folder = schemas_copy(tmp_path, "orders.OrderPlaced", "currency_code")

    assert report_lines(folder) == [
        f"orders.OrderPlaced: {consumer} reads orders.OrderPlaced.currency_code, which schemas/orders.OrderPlaced.avsc"
        " no longer has"
        for consumer in ("customer_orders", "daily_sales", "fulfilment saga", "order_summary")
    ]


def test_a_field_only_one_consumer_reads_names_that_one(tmp_path: Path) -> None:
    assert report_lines(schemas_copy(tmp_path / "a", "orders.OrderRejected", "reason")) == [
        "orders.OrderRejected: order_summary reads orders.OrderRejected.reason, which schemas/orders.OrderRejected.avsc"
        " no longer has"
    ]
    assert report_lines(schemas_copy(tmp_path / "b", "payments.PaymentCaptured", "amount_cents")) == [
        "payments.PaymentCaptured: payment_summary reads payments.PaymentCaptured.amount_cents, which"
        " schemas/payments.PaymentCaptured.avsc no longer has"
    ]


def test_a_field_of_each_line_taken_away_names_the_consumers_that_read_it(tmp_path: Path) -> None:
    lines = report_lines(schemas_copy(tmp_path, "orders.OrderPlaced", "lines.sku"))

    assert [line.split(" reads ")[0] for line in lines] == [
        "orders.OrderPlaced: fulfilment saga",
        "orders.OrderPlaced: order_summary",
    ]
    assert lines[0].endswith("reads orders.OrderPlaced.lines.sku, which schemas/orders.OrderPlaced.avsc no longer has")


def test_a_field_nobody_reads_may_go(tmp_path: Path) -> None:
    assert report_lines(schemas_copy(tmp_path, "orders.OrderPlaced", "channel")) == []


def test_a_schema_file_taken_away_names_its_consumers(tmp_path: Path) -> None:
    folder = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, folder)
    (folder / "shipping.ShipmentScheduled.avsc").unlink()

    assert report_lines(folder) == [
        "shipping.ShipmentScheduled: shipment_summary reads shipping.ShipmentScheduled records, but"
        " schemas/shipping.ShipmentScheduled.avsc no longer exists"
    ]


def test_the_envelope_every_consumer_of_a_record_reads_is_checked_too(tmp_path: Path) -> None:
    lines = report_lines(schemas_copy(tmp_path, "shipping.ShipmentDispatched", "occurred_at"))

    assert lines == [
        "shipping.ShipmentDispatched: shipment_summary reads shipping.ShipmentDispatched.occurred_at, which"
        " schemas/shipping.ShipmentDispatched.avsc no longer has"
    ]


def test_a_path_goes_through_arrays_maps_and_nullable_unions() -> None:
    schema = parse(
        {
            "type": "record",
            "name": "Probe",
            "namespace": "orders",
            "fields": [
                {
                    "name": "note",
                    "type": [
                        "null",
                        {"type": "record", "name": "Note", "fields": [{"name": "text", "type": "string"}]},
                    ],
                },
                {"name": "notes", "type": {"type": "map", "values": "orders.Note"}},
                {"name": "count", "type": "int"},
            ],
        }
    )

    assert has_field(schema, "note.text") and has_field(schema, "notes.text") and has_field(schema, "count")
    assert not has_field(schema, "note.author") and not has_field(schema, "count.text")
    assert not has_field(schema, "missing")
