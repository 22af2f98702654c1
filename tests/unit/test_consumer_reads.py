"""Each consumer's READS says what its code reads, no more and no less: a behavioural check, not a grep.

Every projection folds a history of real domain events (made by the aggregates) into rows, and the fulfilment saga
runs scripted fulfilments message by message, rebuilding its state from its own records before each. Then:
- a field a consumer does NOT declare is replaced by a value nothing can use (UNREAD) in every record: the rows,
  or the saga's decisions and the state it derives, must come out exactly the same; anything that reads the field
  either raises or carries UNREAD into its output, so an undeclared read fails, naming the field;
- a field it DOES declare, replaced alone, must change the output or raise; otherwise the declaration is stale
  (or the scenarios below miss the path that reads it: add one).
Substituting values rather than recording attribute access keeps the domain's frozen dataclasses as they are, and
judges what the code does with a field: a field merely looked at and never used is no dependency."""

import dataclasses
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any
from uuid import UUID, uuid4, uuid5

import pytest

from domain.inventory import StockItem
from domain.orders import Order
from domain.values import OrderLine
from infra.avro.message_mapping import EVENT_NAMES
from infra.avro.saga_mapping import OPERATOR_RECORDS, SAGA_EVENT_NAMES
from infra.registry.consumers import consumers
from projections.catalogue import PROJECTIONS
from sagas import fulfilment
from sagas.fulfilment import FulfilmentSaga
from sagas.handling import handle, replayed
from sagas.history import COMPENSATED, COMPENSATING, COMPLETED, STUCK, Recorded
from sagas.inbox import ABORT, RETRY, Incoming, OperatorRequest, Reply, TimerFired
from sagas.policy import SagaPolicy
from tests.unit.test_message_mapping import every_kind_of_event

AT = datetime(2026, 12, 5, 9, 0, tzinfo=timezone.utc)
POLICY = SagaPolicy(payment_timeout_s=30, reply_timeout_s=5, max_attempts=2)
# What eventsourcing keeps on every event, decoded from the record's envelope: no consumer declares it.
ENVELOPE = {"originator_id", "originator_version", "timestamp", "originator_topic"}
# A command outcome reaches the saga as a Reply; command_type and detail come from Kafka headers, not the record.
REPLY_FIELDS = ("command_id", "status", "rule", "message")


class Unread:
    """A value nothing may use: it equals nothing else, and arithmetic, int(), iteration or truth raise."""

    def __repr__(self) -> str:
        return "UNREAD"

    def __bool__(self) -> bool:
        raise TypeError("UNREAD has no truth value")


UNREAD = Unread()


# -- which record a consumer is given, and its fields -----------------------------------------------------------


def record_name(message: Any) -> str | None:
    """The record full name a message was decoded from (None: no record, e.g. the saga's timer)."""
    if isinstance(message, Recorded):
        return SAGA_EVENT_NAMES[type(message.event)]
    if isinstance(message, Reply):
        return "streamkeep.CommandOutcome"
    if isinstance(message, OperatorRequest):
        return OPERATOR_RECORDS[message.action]
    return EVENT_NAMES.get(type(message))


def fields_of(message: Any) -> dict[str, Any]:
    """The record's own fields as the consumer sees them (not the envelope)."""
    if isinstance(message, Recorded):
        return fields_of(message.event)
    if isinstance(message, Reply):
        return {name: getattr(message, name) for name in REPLY_FIELDS}
    if isinstance(message, OperatorRequest):
        return {"by": message.by}
    return {f.name: getattr(message, f.name) for f in dataclasses.fields(message) if f.name not in ENVELOPE}


def paths_of(message: Any) -> list[str]:
    """Every field path of a message: `lines.sku` for the sku of each line."""
    paths = []
    for name, value in fields_of(message).items():
        items = list(value) if isinstance(value, (list, tuple)) else []
        first = items[0] if items else None
        if isinstance(first, dict):
            paths += [f"{name}.{key}" for key in first]
        elif dataclasses.is_dataclass(first):
            paths += [f"{name}.{f.name}" for f in dataclasses.fields(first)]
        else:
            paths.append(name)
    return paths


def blanked(message: Any, paths: set[str]) -> Any:
    """The message with each of `paths` (of its own record) replaced by UNREAD."""
    if isinstance(message, Recorded):
        return dataclasses.replace(message, event=blanked(message.event, paths))
    changes = {}
    for name, value in fields_of(message).items():
        inner = {path.split(".", 1)[1] for path in paths if path.startswith(f"{name}.")}
        if name in paths:
            changes[name] = UNREAD
        elif inner:
            changes[name] = type(value)(_blank_item(item, inner) for item in value)
    return dataclasses.replace(message, **changes) if changes else message


def _blank_item(item: Any, names: set[str]) -> Any:
    if isinstance(item, dict):
        return {key: UNREAD if key in names else value for key, value in item.items()}
    return dataclasses.replace(item, **dict.fromkeys(names, UNREAD))


def undeclared(message: Any, reads: dict[str, tuple[str, ...]]) -> set[str]:
    declared = set(reads.get(record_name(message) or "", ()))
    return {path for path in paths_of(message) if path not in declared and path.split(".")[0] not in declared}


# -- the consumers, run on a history ----------------------------------------------------------------------------

Blank = Callable[[Any], Any]  # what a consumer is handed instead of each record


def fold_rows(projection: Any, history: list[Any], blank: Blank) -> dict[Any, Any]:
    """The read model's rows after the history, as the runner folds them (key, then apply)."""
    rows: dict[Any, Any] = {}
    for message in map(blank, history):
        key = projection.key(message)
        if key is not None:
            rows[key] = projection.apply(rows.get(key), message)
    return rows


Script = list[Callable[[Any], Any]]  # each step makes the next message from the instance's true state


def run_saga(script: Script, blank: Blank, given: list[Any] | None = None) -> list[Any]:
    """Each message handled by an instance rebuilt from its records as the consumer is given them; the outcome is
    every decision (events and commands) and what the instance derives from its records. `given` collects each
    message and record as they were before blanking."""
    saga_id = PLACED.id
    records: list[Recorded] = []
    transcript = []
    now = AT
    for number, make in enumerate(script):
        message = make(replayed(records))
        now += timedelta(seconds=40 if isinstance(message, TimerFired) else 7)  # a timer: things are overdue
        incoming = Incoming(saga_id, uuid5(saga_id, str(number)), now, blank(message))
        seen = replayed([blank(record) for record in records])
        handled = handle(FulfilmentSaga, seen, incoming, POLICY)
        records += handled.records
        transcript.append((_derived(seen), [r.event for r in handled.records], [o.command for o in handled.outgoing]))
        if given is not None:
            given.append(message)
    if given is not None:
        given += records
    return transcript


def _derived(state: Any) -> Any:
    """What the instance works out from its records, leaving out the records it keeps whole (their fields count
    where a decision uses them)."""
    if state is None:
        return None
    kept = {"started", "pending", "answers"}
    derived = {f.name: getattr(state, f.name) for f in dataclasses.fields(state) if f.name not in kept}
    return {**derived, "pending": sorted(state.pending), "answers": sorted(state.answers)}


# -- the histories ----------------------------------------------------------------------------------------------


def domain_history() -> list[Any]:
    """Every domain event type a read model reads, and a reservation still held at the end (one released or
    committed hides what it held)."""
    held = StockItem.register("SKU-7", AT)
    held.restock(5, AT)
    held.reserve(uuid4(), 2, AT)
    return [*every_kind_of_event(), *held.collect_events()]


def answer(step: str, status: str = "accepted", message: str = "", rule: str = "") -> Callable[[Any], Reply]:
    def make(state: Any) -> Reply:
        sent = state.pending[step]
        return Reply(sent.command_id, sent.command_type, status, rule=rule, message=message)

    return make


def gateway(command_type: str, detail: str = "") -> Callable[[Any], Reply]:
    def make(state: Any) -> Reply:
        return Reply(
            uuid5(state.answers["request-payment"].command_id, "gateway"), command_type, "accepted", "", "", detail
        )

    return make


def given(message: Any) -> Callable[[Any], Any]:
    return lambda _state: message


PLACED = Order.place(
    order_id=uuid5(UUID(int=0), "the order a saga fulfils"),
    customer_id=uuid4(),
    currency="EUR",
    lines=[OrderLine("SKU-1", 2, 1250), OrderLine("SKU-2", 1, 500), OrderLine("SKU-1", 1, 1250)],
    at=AT,
)
PLACED_EVENT = PLACED.collect_events()[0]
RESERVED = [given(PLACED_EVENT), answer("reserve-stock:SKU-1"), answer("reserve-stock:SKU-2")]
AUTHORISED = [*RESERVED, answer("request-payment"), gateway("AuthorisePayment", "AUTH-9")]
CONFIRMED = [*AUTHORISED, answer("schedule-shipment"), answer("confirm-order")]
SAGA_SCRIPTS: dict[str, Script] = {
    "completed": [*CONFIRMED, answer("commit-stock:SKU-1"), answer("commit-stock:SKU-2"), answer("capture-payment")],
    "out of stock": [
        given(PLACED_EVENT),
        answer("reserve-stock:SKU-2", "rejected", "only 0 left", "stock-available"),
        answer("reserve-stock:SKU-1"),
        answer("release-stock:SKU-1"),
        answer("reject-order"),
    ],
    "declined": [
        *RESERVED,
        answer("request-payment"),
        gateway("DeclinePayment", "insufficient funds"),
        answer("release-stock:SKU-1"),
        answer("release-stock:SKU-2"),
        answer("reject-order"),
    ],
    "cancelled after the authorisation": [
        *AUTHORISED,
        given(Order.Cancelled(originator_id=PLACED.id, originator_version=2, timestamp=AT, reason="changed my mind")),
        answer("release-stock:SKU-1"),
        answer("void-payment"),
        answer("schedule-shipment"),
        answer("cancel-shipment"),
        answer("release-stock:SKU-2"),
    ],
    "no answer to the reservations": [
        given(PLACED_EVENT),
        given(TimerFired()),
        given(TimerFired()),
        answer("reject-order"),
        answer("release-stock:SKU-1"),
        answer("release-stock:SKU-2"),
    ],
    "no authorisation in time, a late one voided, a release never answered": [
        *RESERVED,
        answer("request-payment"),
        given(TimerFired()),
        gateway("AuthorisePayment", "AUTH-late"),
        answer("release-stock:SKU-1"),
        answer("void-payment"),
        given(TimerFired()),
        given(TimerFired()),
    ],
    "stuck, retried, refused an abort": [
        *CONFIRMED,
        answer("commit-stock:SKU-1", "rejected", "nothing held", "stock-held"),
        given(OperatorRequest(RETRY, "ops@example.com")),
        answer("commit-stock:SKU-1"),
        answer("commit-stock:SKU-2"),
        given(OperatorRequest(ABORT, "ops@example.com")),
        answer("capture-payment"),
    ],
    "aborted": [*RESERVED, given(OperatorRequest(ABORT, "ops@example.com")), answer("release-stock:SKU-1")],
}


# -- the checks -------------------------------------------------------------------------------------------------


def saga_history() -> list[Any]:
    """Every message of every scenario as the saga was given it, and every record it made (each scenario's
    records as an instance of its own, so that a read model keeps them apart)."""
    given: list[Any] = []
    for scenario, script in SAGA_SCRIPTS.items():
        handled: list[Any] = []
        run_saga(script, lambda message: message, handled)
        instance = uuid5(PLACED.id, scenario)
        given += [dataclasses.replace(m, saga_id=instance) if isinstance(m, Recorded) else m for m in handled]
    return given


def runs() -> Iterator[tuple[str, Callable[[Blank], Any], list[Any]]]:
    """Each consumer: its name, how to run it with a blanking, and every record it is given in the scenarios."""
    history = domain_history()
    saga_records = [m for m in saga_history() if isinstance(m, Recorded)]
    for name, projection in PROJECTIONS.items():
        given_records = saga_records if projection.CONTEXT == "fulfilment" else history
        yield name, partial(fold_rows, projection, given_records), given_records
    yield f"{fulfilment.SAGA_TYPE} saga", run_every_script, saga_history()


def run_every_script(blank: Blank) -> list[Any]:
    return [run_saga(script, blank) for script in SAGA_SCRIPTS.values()]


RUNS = {name: (run, messages) for name, run, messages in runs()}


def test_every_consumer_is_checked_here() -> None:
    assert set(RUNS) == set(consumers())


@pytest.mark.parametrize(
    "scenario, status",
    [
        ("completed", COMPLETED),
        ("out of stock", COMPENSATED),
        ("declined", COMPENSATED),
        ("cancelled after the authorisation", COMPENSATED),
        ("no answer to the reservations", COMPENSATED),
        ("no authorisation in time, a late one voided, a release never answered", STUCK),
        ("stuck, retried, refused an abort", COMPLETED),
        ("aborted", COMPENSATING),
    ],
)
def test_each_saga_scenario_ends_where_its_name_says(scenario: str, status: str) -> None:
    handled: list[Any] = []
    run_saga(SAGA_SCRIPTS[scenario], lambda message: message, handled)
    state = replayed([m for m in handled if isinstance(m, Recorded)])

    assert state is not None and state.status == status


@pytest.mark.parametrize("consumer", sorted(RUNS))
def test_a_consumer_reads_no_field_it_does_not_declare(consumer: str) -> None:
    run, messages = RUNS[consumer]
    reads = consumers()[consumer]
    reference = run(lambda message: message)
    for name, path in sorted({(record_name(m), p) for m in messages for p in undeclared(m, reads)}, key=str):
        blank = partial(_blank_where, name, {path})
        try:
            outcome = run(blank)
        except Exception as error:
            pytest.fail(f"{consumer} reads {name}.{path}, not in its READS: {type(error).__name__}: {error}")
        unchanged = outcome == reference
        assert unchanged, f"{consumer} reads {name}.{path}, not in its READS: its output changed"
    unchanged = run(lambda message: blanked(message, undeclared(message, reads))) == reference
    assert unchanged, f"{consumer} reads some field not in its READS when all are left out together"


@pytest.mark.parametrize("consumer", sorted(RUNS))
def test_every_field_a_consumer_declares_is_read_in_the_scenarios(consumer: str) -> None:
    run, messages = RUNS[consumer]
    reference = run(lambda message: message)
    given_names = {record_name(m) for m in messages}
    for name, paths in sorted(consumers()[consumer].items()):
        assert name in given_names, f"{consumer} declares {name}, which no scenario here gives it"
        for path in paths:
            try:
                outcome = run(partial(_blank_where, name, {path}))
            except Exception:
                continue  # it used the value: read
            unchanged = outcome == reference
            assert not unchanged, f"{consumer} declares {name}.{path} but nothing it does depends on it"


def _blank_where(name: str | None, paths: set[str], message: Any) -> Any:
    return blanked(message, paths) if record_name(message) == name else message
