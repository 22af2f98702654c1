"""Command handlers: load the aggregate, let it decide, hand back the new events."""

from collections.abc import Callable
from dataclasses import replace
from typing import Any
from uuid import UUID

from commands.messages import (
    CancelOrder,
    Command,
    CommitStock,
    ConfirmOrder,
    Envelope,
    PlaceOrder,
    RejectOrder,
    ReleaseStock,
    ReserveStock,
    RestockItem,
)
from commands.outcomes import ACCEPTED, CONFLICT, NOT_FOUND, REJECTED, Outcome
from commands.ports import Aggregates
from domain.errors import RuleBroken
from domain.inventory import StockItem
from domain.orders import Order

EXPECTED_VERSION = "expected-version"


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


def cancel_order(command: CancelOrder, envelope: Envelope, aggregates: Aggregates) -> Order:
    order: Order = _load(aggregates, command.order_id, envelope, "order")
    order.cancel(command.reason, envelope.issued_at)
    return order


def confirm_order(command: ConfirmOrder, envelope: Envelope, aggregates: Aggregates) -> Order:
    order: Order = _load(aggregates, command.order_id, envelope, "order")
    order.confirm(envelope.issued_at)
    return order


def reject_order(command: RejectOrder, envelope: Envelope, aggregates: Aggregates) -> Order:
    order: Order = _load(aggregates, command.order_id, envelope, "order")
    order.reject(command.reason, envelope.issued_at)
    return order


def restock_item(command: RestockItem, envelope: Envelope, aggregates: Aggregates) -> StockItem:
    item: StockItem | None = aggregates.get(command.aggregate_id)
    _check_expected_version(envelope, item.version if item else 0)
    if item is None:
        item = StockItem.register(command.sku, envelope.issued_at)
    item.restock(command.quantity, envelope.issued_at)
    return item


def reserve_stock(command: ReserveStock, envelope: Envelope, aggregates: Aggregates) -> StockItem:
    item: StockItem = _load(aggregates, command.aggregate_id, envelope, f"SKU {command.sku}", field="sku")
    item.reserve(command.order_id, command.quantity, envelope.issued_at)
    return item


def release_stock(command: ReleaseStock, envelope: Envelope, aggregates: Aggregates) -> StockItem:
    item: StockItem = _load(aggregates, command.aggregate_id, envelope, f"SKU {command.sku}", field="sku")
    item.release(command.order_id, envelope.issued_at)
    return item


def commit_stock(command: CommitStock, envelope: Envelope, aggregates: Aggregates) -> StockItem:
    item: StockItem = _load(aggregates, command.aggregate_id, envelope, f"SKU {command.sku}", field="sku")
    item.commit(command.order_id, envelope.issued_at)
    return item


HANDLERS: dict[type, Callable[[Any, Envelope, Aggregates], Any]] = {
    PlaceOrder: place_order,
    CancelOrder: cancel_order,
    ConfirmOrder: confirm_order,
    RejectOrder: reject_order,
    RestockItem: restock_item,
    ReserveStock: reserve_stock,
    ReleaseStock: release_stock,
    CommitStock: commit_stock,
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


def _load(aggregates: Aggregates, aggregate_id: UUID, envelope: Envelope, what: str, field: str = "id") -> Any:
    aggregate = aggregates.get(aggregate_id)
    if aggregate is None:
        raise AggregateNotFound(f"no {what}" if " " in what else f"no {what} {aggregate_id}")
    _check_expected_version(envelope, aggregate.version)
    return aggregate


def _check_expected_version(envelope: Envelope, current_version: int) -> None:
    if envelope.expected_version is not None and envelope.expected_version != current_version:
        raise VersionConflict(
            current_version,
            f"expected version {envelope.expected_version}, the aggregate is at version {current_version}",
        )
