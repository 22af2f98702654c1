"""Every saga event survives its Avro schema: what the runner appends is what a restarted runner folds."""

import io
import json
from datetime import datetime, timezone
from uuid import uuid4

import fastavro
import pytest

from domain.values import OrderLine
from infra.avro.saga_mapping import SAGA_EVENT_NAMES, SAGA_EVENT_TYPES, record_to_saga_event, saga_event_to_record
from infra.settings import REPOSITORY_ROOT
from sagas import history
from sagas.history import Recorded

AT = datetime(2026, 12, 3, 9, 0, 0, 123456, tzinfo=timezone.utc)
EXAMPLES = [
    history.FulfilmentStarted(uuid4(), uuid4(), "EUR", (OrderLine("SKU-1", 2, 1250), OrderLine("SKU-2", 1, 5))),
    history.CommandSent("reserve-stock:SKU-1", uuid4(), "ReserveStock", 2, AT),
    history.ReplyReceived("payment-answer", uuid4(), "DeclinePayment", "accepted", "", "", "insufficient funds"),
    history.CommandUnanswered("request-payment", 5),
    history.EventObserved("OrderCancelled", "changed my mind"),
    history.DeadlineSet("payment-authorised", AT),
    history.DeadlineReached("payment-authorised"),
    history.DeadlineCleared("payment-authorised"),
    history.StatusChanged("compensating", "compensating", "payment declined (insufficient funds)"),
    history.OperatorActed("abort", "ops@example", accepted=False, reason="the instance is already completed"),
]


def test_every_saga_event_type_has_a_schema_and_an_example() -> None:
    assert {type(event) for event in EXAMPLES} == set(SAGA_EVENT_NAMES)
    for name in SAGA_EVENT_TYPES:
        assert (REPOSITORY_ROOT / "schemas" / f"{name}.avsc").exists(), name


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda event: type(event).__name__)
def test_a_saga_event_written_with_its_schema_reads_back_the_same(event: history.SagaEvent) -> None:
    recorded = Recorded(uuid4(), 7, AT, uuid4(), event)
    name, record = saga_event_to_record(recorded)
    schema = fastavro.parse_schema(json.loads((REPOSITORY_ROOT / "schemas" / f"{name}.avsc").read_text()))
    body = io.BytesIO()
    fastavro.schemaless_writer(body, schema, record)
    body.seek(0)

    assert record_to_saga_event(name, fastavro.schemaless_reader(body, schema)) == recorded
