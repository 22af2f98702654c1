"""Command handlers: load the aggregate, let it decide, hand back the new events."""

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from commands.messages import (
    AuthorisePayment,
    CancelOrder,
    CancelShipment,
    CapturePayment,
    Command,
    CommitStock,
    ConfirmOrder,
    DeclinePayment,
    DispatchShipment,
    Envelope,
    PlaceOrder,
    RefundPayment,
    RejectOrder,
    ReleaseStock,
    RequestPayment,
    ReserveStock,
    RestockItem,
    ScheduleShipment,
    VoidPayment,
)
from commands.outcomes import ACCEPTED, CONFLICT, NOT_FOUND, REJECTED, Outcome
from commands.ports import Aggregates
from domain.errors import RuleBroken
from domain.inventory import StockItem
from domain.orders import Order
from domain.payments import Payment
from domain.shipping import Shipment

EXPECTED_VERSION = "expected-version"
Handler = Callable[[Any, Envelope, Aggregates], Any]


class VersionConflict(Exception):
    """The aggregate is not at the version the command expected."""

    def __init__(self, current_version: int, message: str) -> None:
        super().__init__(message)
        self.current_version = current_version


class AggregateNotFound(Exception):
    """The command addresses an aggregate that does not exist."""


def place_order(command: PlaceOrder, envelope: Envelope, aggregates: Aggregates) -> Order:
    _expect_new(aggregates, command.order_id, envelope, f"order {command.order_id} already exists")
    return Order.place(
        order_id=command.order_id,
        customer_id=command.customer_id,
        currency=command.currency,
        lines=command.lines,
        at=envelope.issued_at,
    )


def restock_item(command: RestockItem, envelope: Envelope, aggregates: Aggregates) -> StockItem:
    item: StockItem | None = aggregates.get(command.aggregate_id)
    _check_expected_version(envelope, item.version if item else 0)
    if item is None:
        item = StockItem.register(command.sku, envelope.issued_at)
    item.restock(command.quantity, envelope.issued_at)
    return item


def request_payment(command: RequestPayment, envelope: Envelope, aggregates: Aggregates) -> Payment:
    _expect_new(aggregates, command.payment_id, envelope, f"payment {command.payment_id} already exists")
    return Payment.request(
        command.payment_id, command.order_id, command.amount_cents, command.currency, envelope.issued_at
    )


def schedule_shipment(command: ScheduleShipment, envelope: Envelope, aggregates: Aggregates) -> Shipment:
    _expect_new(aggregates, command.shipment_id, envelope, f"shipment {command.shipment_id} already exists")
    lines = [(line.sku, line.quantity) for line in command.lines]
    return Shipment.schedule(command.shipment_id, command.order_id, lines, envelope.issued_at)


def _changing(what: str, act: Callable[[Any, Any, datetime], None]) -> Handler:
    """A handler for a command on an existing aggregate: load it, check the version, let it decide."""

    def handle(command: Any, envelope: Envelope, aggregates: Aggregates) -> Any:
        # Stock items are known to callers by SKU, not by the id derived from it.
        name = f"SKU {command.sku}" if hasattr(command, "sku") else f"{what} {command.aggregate_id}"
        aggregate = _load(aggregates, command.aggregate_id, envelope, name)
        act(aggregate, command, envelope.issued_at)
        return aggregate

    return handle


HANDLERS: dict[type, Handler] = {
    PlaceOrder: place_order,
    CancelOrder: _changing("order", lambda order, c, at: order.cancel(c.reason, at)),
    ConfirmOrder: _changing("order", lambda order, c, at: order.confirm(at)),
    RejectOrder: _changing("order", lambda order, c, at: order.reject(c.reason, at)),
    RestockItem: restock_item,
    ReserveStock: _changing("stock item", lambda item, c, at: item.reserve(c.order_id, c.quantity, at)),
    ReleaseStock: _changing("stock item", lambda item, c, at: item.release(c.order_id, at)),
    CommitStock: _changing("stock item", lambda item, c, at: item.commit(c.order_id, at)),
    RequestPayment: request_payment,
    AuthorisePayment: _changing("payment", lambda payment, c, at: payment.authorise(c.authorisation_code, at)),
    DeclinePayment: _changing("payment", lambda payment, c, at: payment.decline(c.reason, at)),
    CapturePayment: _changing("payment", lambda payment, c, at: payment.capture(at)),
    VoidPayment: _changing("payment", lambda payment, c, at: payment.void(at)),
    RefundPayment: _changing("payment", lambda payment, c, at: payment.refund(c.amount_cents, at)),
    ScheduleShipment: schedule_shipment,
    DispatchShipment: _changing("shipment", lambda s, c, at: s.dispatch(c.carrier, c.tracking_code, at)),
    CancelShipment: _changing("shipment", lambda shipment, c, at: shipment.cancel(c.reason, at)),
}


def decide(command: Command, envelope: Envelope, aggregates: Aggregates) -> tuple[Any, list[Any], Outcome]:
    """Run the command: the aggregate as it now stands, its new events and an accepted outcome; or a refusal."""
    current = aggregates.get(command.aggregate_id)
    version = current.version if current else 0
    refusal = Outcome(envelope.command_id, REJECTED, command.aggregate_id, version)
    try:
        aggregate = HANDLERS[type(command)](command, envelope, aggregates)
    except RuleBroken as rule:
        return None, [], replace(refusal, rule=rule.rule, message=rule.message, field=rule.field)
    except VersionConflict as conflict:
        conflicted = replace(refusal, status=CONFLICT, version=conflict.current_version)
        return None, [], replace(conflicted, rule=EXPECTED_VERSION, message=str(conflict))
    except AggregateNotFound as missing:
        return None, [], replace(refusal, status=NOT_FOUND, rule="exists", message=str(missing))
    events = list(aggregate.collect_events())
    # A command that changes nothing (e.g. reserving twice for one order) is accepted at the current version.
    new_version = events[-1].originator_version if events else version
    return aggregate, events, Outcome(envelope.command_id, ACCEPTED, command.aggregate_id, new_version)


def _expect_new(aggregates: Aggregates, aggregate_id: UUID, envelope: Envelope, message: str) -> None:
    existing = aggregates.get(aggregate_id)
    if existing is not None:
        raise VersionConflict(existing.version, message)
    _check_expected_version(envelope, 0)


def _load(aggregates: Aggregates, aggregate_id: UUID, envelope: Envelope, what: str) -> Any:
    aggregate = aggregates.get(aggregate_id)
    if aggregate is None:
        raise AggregateNotFound(f"no {what}")
    _check_expected_version(envelope, aggregate.version)
    return aggregate


def _check_expected_version(envelope: Envelope, current_version: int) -> None:
    if envelope.expected_version is not None and envelope.expected_version != current_version:
        raise VersionConflict(
            current_version,
            f"expected version {envelope.expected_version}, the aggregate is at version {current_version}",
        )
