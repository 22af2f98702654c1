"""An instance's state, folded from its own events alone: the same on every backend and after every restart."""

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from sagas.history import (
    RUNNING,
    STUCK,
    CommandSent,
    CommandUnanswered,
    DeadlineCleared,
    DeadlineReached,
    DeadlineSet,
    EventObserved,
    FulfilmentStarted,
    OperatorActed,
    Recorded,
    ReplyReceived,
    SagaEvent,
    StatusChanged,
)


@dataclass(frozen=True)
class SagaState:
    """Where one instance stands: status and step, what it waits for, what it was told, and when to look again."""

    saga_id: UUID
    version: int = 0
    started: FulfilmentStarted | None = None
    started_at: datetime | None = None
    updated_at: datetime | None = None
    status: str = RUNNING
    step: str = ""
    reason: str = ""
    pending: dict[str, CommandSent] = field(default_factory=dict)  # step -> its command, not answered yet
    steps: dict[UUID, str] = field(default_factory=dict)  # command id -> its step, so a late answer is known
    answers: dict[str, ReplyReceived] = field(default_factory=dict)  # step -> the answer it got
    deadlines: dict[str, datetime] = field(default_factory=dict)
    observed: tuple[str, ...] = ()  # event types of other contexts that reached the instance
    operator_retries: int = 0
    handled: frozenset[UUID] = frozenset()  # message ids already handled: a redelivery changes nothing

    def accepted(self, step: str) -> bool:
        answer = self.answers.get(step)
        return answer is not None and answer.status == "accepted"

    def next_due(self) -> datetime | None:
        """The earliest moment the instance must be looked at again: a deadline, or a resend owed. A stuck
        instance waits for an operator instead."""
        if self.status == STUCK:
            return None
        moments = [*self.deadlines.values(), *(sent.retry_at for sent in self.pending.values())]
        return min(moments) if moments else None


def evolve(state: SagaState, record: Recorded) -> SagaState:
    """The state after one more of the instance's own events."""
    event = record.event
    state = replace(
        state,
        version=record.version,
        updated_at=record.at,
        handled=state.handled | {record.cause_id} if record.cause_id else state.handled,
    )
    return _EVOLVE[type(event)](state, event, record.at)


def fold(saga_id: UUID, records: list[Recorded]) -> SagaState:
    state = SagaState(saga_id)
    for record in records:
        state = evolve(state, record)
    return state


def _started(state: SagaState, event: FulfilmentStarted, at: datetime) -> SagaState:
    return replace(state, started=event, started_at=at)


def _sent(state: SagaState, event: CommandSent, at: datetime) -> SagaState:
    answers = {step: answer for step, answer in state.answers.items() if step != event.step}
    steps = {**state.steps, event.command_id: event.step}
    return replace(state, pending={**state.pending, event.step: event}, answers=answers, steps=steps)


def _answered(state: SagaState, event: ReplyReceived, at: datetime) -> SagaState:
    pending = {step: sent for step, sent in state.pending.items() if step != event.step}
    return replace(state, pending=pending, answers={**state.answers, event.step: event})


def _unanswered(state: SagaState, event: CommandUnanswered, at: datetime) -> SagaState:
    return replace(state, pending={step: sent for step, sent in state.pending.items() if step != event.step})


def _observed(state: SagaState, event: EventObserved, at: datetime) -> SagaState:
    return replace(state, observed=(*state.observed, event.event_type))


def _deadline_set(state: SagaState, event: DeadlineSet, at: datetime) -> SagaState:
    return replace(state, deadlines={**state.deadlines, event.name: event.due})


def _deadline_gone(state: SagaState, event: DeadlineReached | DeadlineCleared, at: datetime) -> SagaState:
    return replace(state, deadlines={name: due for name, due in state.deadlines.items() if name != event.name})


def _status(state: SagaState, event: StatusChanged, at: datetime) -> SagaState:
    return replace(state, status=event.status, step=event.step, reason=event.reason or state.reason)


def _operator(state: SagaState, event: OperatorActed, at: datetime) -> SagaState:
    if event.accepted and event.action == "retry":
        return replace(state, operator_retries=state.operator_retries + 1)
    return state


_EVOLVE: dict[type[SagaEvent], Callable[[SagaState, Any, datetime], SagaState]] = {
    FulfilmentStarted: _started,
    CommandSent: _sent,
    ReplyReceived: _answered,
    CommandUnanswered: _unanswered,
    EventObserved: _observed,
    DeadlineSet: _deadline_set,
    DeadlineReached: _deadline_gone,
    DeadlineCleared: _deadline_gone,
    StatusChanged: _status,
    OperatorActed: _operator,
}
