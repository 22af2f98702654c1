"""Maps a saga instance's own events and the operators' saga commands to and from their Avro records."""

import dataclasses
import functools
from typing import Any

from domain.values import OrderLine
from infra.avro.message_mapping import record_to_event
from sagas import history
from sagas.history import FulfilmentStarted, Recorded, SagaEvent
from sagas.inbox import ABORT, RETRY

# Avro full name (= subject = schemas/<name>.avsc) -> the saga event class.
SAGA_EVENT_TYPES: dict[str, type[SagaEvent]] = {
    f"fulfilment.{cls.__name__}": cls
    for cls in (
        history.FulfilmentStarted,
        history.CommandSent,
        history.ReplyReceived,
        history.CommandUnanswered,
        history.EventObserved,
        history.DeadlineSet,
        history.DeadlineReached,
        history.DeadlineCleared,
        history.StatusChanged,
        history.OperatorActed,
    )
}
SAGA_EVENT_NAMES: dict[type[SagaEvent], str] = {cls: name for name, cls in SAGA_EVENT_TYPES.items()}
# The operators' commands to a saga instance, by their record name.
OPERATOR_COMMANDS: dict[str, str] = {"fulfilment.RetrySaga": RETRY, "fulfilment.AbortSaga": ABORT}
OPERATOR_RECORDS: dict[str, str] = {action: name for name, action in OPERATOR_COMMANDS.items()}


def saga_event_to_record(recorded: Recorded) -> tuple[str, dict[str, Any]]:
    event = recorded.event
    record = {
        "saga_id": recorded.saga_id,
        "version": recorded.version,
        "at": recorded.at,
        "cause_id": recorded.cause_id,
        **{name: getattr(event, name) for name in _fields(type(event))},
    }
    if isinstance(event, FulfilmentStarted):
        record["lines"] = [line.as_dict() for line in event.lines]
    return SAGA_EVENT_NAMES[type(event)], record


def record_to_saga_event(name: str, record: dict[str, Any]) -> Recorded:
    event_class = SAGA_EVENT_TYPES[name]
    values = {field: record[field] for field in _fields(event_class)}
    if event_class is FulfilmentStarted:
        values["lines"] = tuple(OrderLine.from_dict(line) for line in values["lines"])
    return Recorded(record["saga_id"], record["version"], record["at"], record["cause_id"], event_class(**values))


def record_to_projected(name: str, record: dict[str, Any]) -> Any:
    """What a read model is given for a record of an events topic: a saga instance's recorded event for the
    saga's own records, the domain event for any other."""
    return record_to_saga_event(name, record) if name in SAGA_EVENT_TYPES else record_to_event(name, record)


@functools.cache
def _fields(event_class: type) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(event_class))
