"""One message through one instance, for any backend: de-duplicate, decide, stamp the events, make the commands."""

from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

from commands.messages import Command, Envelope
from sagas.history import CommandSent, Recorded, SagaEvent
from sagas.inbox import Incoming, TimerFired
from sagas.policy import SagaPolicy
from sagas.state import SagaState, evolve


class SagaDefinition(Protocol):
    """What a runner needs of a saga; `sagas/fulfilment.py` is one."""

    saga_type: str

    def starts(self, body: object) -> bool: ...

    def start(self, state: SagaState, incoming: Incoming, policy: SagaPolicy) -> list[SagaEvent]: ...

    def decide(self, state: SagaState, incoming: Incoming, policy: SagaPolicy) -> list[SagaEvent]: ...

    def command_for(self, state: SagaState, step: str) -> Command: ...


@dataclass(frozen=True)
class Outgoing:
    """A command to send, with the envelope that ties it to the instance (correlation = saga id)."""

    step: str
    command: Command
    envelope: Envelope


@dataclass(frozen=True)
class Handled:
    """What one message came to: the instance's new state, its new events, and the commands they send."""

    state: SagaState | None
    records: list[Recorded] = field(default_factory=list)
    outgoing: list[Outgoing] = field(default_factory=list)


def handle(saga: SagaDefinition, state: SagaState | None, incoming: Incoming, policy: SagaPolicy) -> Handled:
    """Handle a message: nothing for a duplicate or a message for no instance, else the decision as records."""
    timer = isinstance(incoming.body, TimerFired)
    if state is None:
        if not saga.starts(incoming.body):
            return Handled(None)
        state = SagaState(incoming.saga_id)
        events = saga.start(state, incoming, policy)
    elif not timer and incoming.message_id in state.handled:
        return Handled(state)
    else:
        events = saga.decide(state, incoming, policy)
    cause = None if timer else incoming.message_id
    records, outgoing = [], []
    for event in events:
        record = Recorded(state.saga_id, state.version + 1, incoming.at, cause, event)
        state = evolve(state, record)
        records.append(record)
        if isinstance(event, CommandSent):
            command = saga.command_for(state, event.step)
            outgoing.append(Outgoing(event.step, command, envelope_for(state, event, cause)))
    return Handled(state, records, outgoing)


def envelope_for(state: SagaState, sent: CommandSent, cause: UUID | None) -> Envelope:
    """The idempotency key is the command id: the command side answers a resend with its first answer."""
    return Envelope(
        command_id=sent.command_id,
        issued_at=state.updated_at,  # type: ignore[arg-type]  # set by the record just folded
        correlation_id=state.saga_id,
        causation_id=cause,
        idempotency_key=f"saga {sent.command_id}",
        request_hash=sent.step,
    )


def replayed(records: list[Any]) -> SagaState | None:
    """An instance's state from its stored records, in version order (None when there are none)."""
    state: SagaState | None = None
    for record in records:
        state = evolve(state or SagaState(record.saga_id), record)
    return state
