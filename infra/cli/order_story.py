"""One order's story as steps: what each stored record says about it, the read models' progress, in time order."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

COMMAND, EVENT, SAGA_STEP, PROJECTION = "command", "event", "saga step", "projection"
# Records of one moment (a saga's step and the command it sends share their time) in the order they cause each
# other: the saga decides, its command goes out, the context's event follows, a read model applies it.
_CAUSAL_RANK = {SAGA_STEP: 0, COMMAND: 1, EVENT: 2, PROJECTION: 3}
# What every record of a kind carries to route and stamp it; the detail shows the rest.
_EVENT_ENVELOPE = {"aggregate_id", "version", "occurred_at", "command_id", "correlation_id", "class_version"}
_COMMAND_ENVELOPE = {
    "command_id",
    "issued_at",
    "correlation_id",
    "causation_id",
    "reply_to",
    "expected_version",
    "idempotency_key",
    "request_hash",
}
_SAGA_ENVELOPE = {"saga_id", "version", "at", "cause_id"}


@dataclass(frozen=True)
class Step:
    """One thing that happened to the order, where it is stored, and the ids that tie it to the others."""

    at: datetime
    topic: str
    kind: str
    type: str
    detail: str
    partition: int | None = None
    offset: int | None = None
    command_id: str | None = None
    causation_id: str | None = None

    @property
    def context(self) -> str:
        return self.topic.split(".", 1)[0]

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "context": self.context,
            "topic": self.topic,
            "kind": self.kind,
            "type": self.type,
            "detail": self.detail,
            "partition": self.partition,
            "offset": self.offset,
            "command_id": self.command_id,
            "causation_id": self.causation_id,
        }


def in_time_order(steps: Iterable[Step]) -> list[Step]:
    """By time; at one time, cause before effect; then as stored."""
    return sorted(steps, key=lambda s: (s.at, _CAUSAL_RANK[s.kind], s.topic, s.partition or 0, s.offset or 0))


def event_step(topic: str, partition: int, offset: int, name: str, record: Mapping[str, Any]) -> Step:
    data = _fields(record, _EVENT_ENVELOPE)
    command = _text(record.get("command_id"))
    return Step(
        record["occurred_at"],
        topic,
        EVENT,
        name,
        _joined(data, f"by command {_short(command)}" if command else ""),
        partition,
        offset,
        command_id=command,
    )


def command_step(topic: str, partition: int, offset: int, name: str, record: Mapping[str, Any]) -> Step:
    command, cause = _text(record.get("command_id")), _text(record.get("causation_id"))
    ids = f"id {_short(command)}" + (f", caused by {_short(cause)}" if cause else "")
    return Step(
        record["issued_at"],
        topic,
        COMMAND,
        name,
        _joined(_fields(record, _COMMAND_ENVELOPE), ids),
        partition,
        offset,
        command_id=command,
        causation_id=cause,
    )


def saga_step(topic: str, partition: int, offset: int, name: str, record: Mapping[str, Any]) -> Step:
    kind = name.rsplit(".", 1)[-1]
    fields = _fields(record, _SAGA_ENVELOPE)
    say = _SAGA_DETAIL.get(kind)
    detail = say(fields) if say is not None else _joined(fields, "")
    command = _text(fields.get("command_id"))
    cause = _text(record.get("cause_id"))
    return Step(record["at"], topic, SAGA_STEP, name, detail, partition, offset, command_id=command, causation_id=cause)


def projection_steps(
    events: Iterable[Step],
    read_models: Mapping[str, str],
    checkpoints: Mapping[tuple[str, str, int], int],
    last_batches: Mapping[str, datetime],
    now: datetime,
) -> list[Step]:
    """Per read model (name -> the context it reads) that reads any of the order's events: how many of them its
    checkpoint has passed, placed at its latest batch (PostgreSQL keeps a checkpoint per partition and the time of
    a model's latest batch, no time per event: the batch time is when the model had applied them by)."""
    stored: dict[str, list[Step]] = {}
    for step in events:
        if step.kind in (EVENT, SAGA_STEP):
            stored.setdefault(step.topic, []).append(step)
    steps = []
    for model, context in read_models.items():
        topic = f"{context}.events"
        if topic not in stored:
            continue
        order_records = stored[topic]
        applied = [s for s in order_records if s.offset is not None and _passed(checkpoints, model, topic, s)]
        if len(applied) == len(order_records):
            last = max(applied, key=lambda s: s.at)
            detail = (
                f"applied all {len(applied)} of the order's, the last {last.type} at {last.partition}/{last.offset}"
            )
        else:
            detail = f"behind: applied {len(applied)} of the order's {len(order_records)} records"
        at = last_batches.get(model, now)
        steps.append(Step(at, topic, PROJECTION, model, detail))
    return steps


def _passed(checkpoints: Mapping[tuple[str, str, int], int], model: str, topic: str, step: Step) -> bool:
    done = checkpoints.get((model, topic, step.partition or 0))
    return done is not None and step.offset is not None and step.offset <= done


def _sent(f: Mapping[str, Any]) -> str:
    again = f" (attempt {f['attempt']})" if f.get("attempt", 1) > 1 else ""
    return f"{f['step']}: sent {f['command_type']} {_short(_text(f['command_id']))}{again}"


def _replied(f: Mapping[str, Any]) -> str:
    why = "; ".join(str(f[k]) for k in ("rule", "message", "detail") if f.get(k))
    return f"{f['step']}: {f['command_type']} {f['status']}" + (f" ({why})" if why else "")


def _status(f: Mapping[str, Any]) -> str:
    return f"{f['status']} at {f['step']}" + (f": {f['reason']}" if f.get("reason") else "")


def _operator(f: Mapping[str, Any]) -> str:
    answer = "accepted" if f.get("accepted", True) else "refused"
    return f"{f['action']} by {f['by']}, {answer}" + (f": {f['reason']}" if f.get("reason") else "")


# How a saga's own event reads in a line; the others show their fields.
_SAGA_DETAIL = {
    "CommandSent": _sent,
    "ReplyReceived": _replied,
    "CommandUnanswered": lambda f: f"{f['step']}: no answer after {f['attempts']} attempts",
    "EventObserved": lambda f: f"{f['event_type']}" + (f": {f['detail']}" if f.get("detail") else ""),
    "DeadlineSet": lambda f: f"{f['name']} due {f['due'].isoformat()}",
    "DeadlineReached": lambda f: f"{f['name']} passed",
    "DeadlineCleared": lambda f: f"{f['name']} cleared",
    "StatusChanged": _status,
    "OperatorActed": _operator,
}


def _fields(record: Mapping[str, Any], envelope: set[str]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in envelope}


def _joined(fields: Mapping[str, Any], tail: str) -> str:
    parts = [f"{k}={_value(v)}" for k, v in fields.items() if v is not None and v != ""]
    return ", ".join([*parts, tail] if tail else parts)


def _value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + " ".join(_value(item) for item in value) + "]"
    if isinstance(value, dict) and "sku" in value and "quantity" in value:
        return f"{value['quantity']}x{value['sku']}"  # an order line, as a picker reads it
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _short(command_id: str | None) -> str:
    # Eight hex digits tell one command of an order's from the others, as git's short ids do.
    return (command_id or "")[:8]
