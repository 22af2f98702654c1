"""Command handlers: load the aggregate, let it decide, hand back the new events."""

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from commands.messages import Command, Envelope, PlaceOrder
from commands.outcomes import ACCEPTED, CONFLICT, REJECTED, Outcome
from commands.ports import Orders
from domain.errors import RuleBroken
from domain.orders import Order

EXPECTED_VERSION = "expected-version"


class VersionConflict(Exception):
    """The aggregate is not at the version the command expected."""

    def __init__(self, current_version: int, message: str) -> None:
        super().__init__(message)
        self.current_version = current_version


def place_order(command: PlaceOrder, envelope: Envelope, orders: Orders) -> Order:
    existing = orders.get(command.order_id)
    if existing is not None:
        raise VersionConflict(existing.version, f"order {command.order_id} already exists")
    _check_expected_version(envelope, current_version=0)
    return Order.place(
        order_id=command.order_id,
        customer_id=command.customer_id,
        currency=command.currency,
        lines=command.lines,
        at=envelope.issued_at,
    )


def _check_expected_version(envelope: Envelope, current_version: int) -> None:
    if envelope.expected_version is not None and envelope.expected_version != current_version:
        raise VersionConflict(
            current_version,
            f"expected version {envelope.expected_version}, the aggregate is at version {current_version}",
        )


HANDLERS: dict[type, Callable[[Any, Envelope, Any], Any]] = {PlaceOrder: place_order}


def handle(command: Command, envelope: Envelope, orders: Orders) -> Sequence[Any]:
    """Run the command's handler; return the aggregate's new events (RuleBroken/VersionConflict on refusal)."""
    aggregate = HANDLERS[type(command)](command, envelope, orders)
    return aggregate.collect_events()


__all__ = ["HANDLERS", "RuleBroken", "VersionConflict", "decide", "handle", "place_order"]


def decide(command: Command, envelope: Envelope, aggregates: Orders) -> tuple[list[Any], Outcome]:
    """Run the command and say what became of it: the new events and an accepted outcome, or a refusal."""
    current = aggregates.get(command.aggregate_id)
    try:
        events = list(handle(command, envelope, aggregates))
    except RuleBroken as rule:
        version = current.version if current else 0
        refusal = Outcome(envelope.command_id, REJECTED, command.aggregate_id, version)
        return [], replace(refusal, rule=rule.rule, message=rule.message, field=rule.field)
    except VersionConflict as conflict:
        version = conflict.current_version
        return [], Outcome(
            envelope.command_id, CONFLICT, command.aggregate_id, version, rule=EXPECTED_VERSION, message=str(conflict)
        )
    return events, Outcome(envelope.command_id, ACCEPTED, command.aggregate_id, events[-1].originator_version)
