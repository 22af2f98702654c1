"""What the query routes answer, as the served OpenAPI documents it; the contract tests hold each answer to it.

Documentation only: the routes build their answers with the read models' `to_json`, unvalidated on the hot path.
Every model forbids other fields, so a field added to an answer and not here fails the contract test.
"""

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrderLineView(_Answer):
    sku: str
    quantity: int
    unit_price_cents: int


class OrderView(_Answer):
    order_id: UUID
    customer_id: UUID
    status: str
    currency: str
    total_cents: int
    lines: list[OrderLineView]
    version: int
    placed_at: datetime
    updated_at: datetime
    reason: str | None


class CustomerOrder(_Answer):
    order_id: UUID
    placed_at: datetime
    status: str
    currency: str
    total_cents: int
    version: int


class CustomerOrdersPage(_Answer):
    customer_id: UUID
    orders: list[CustomerOrder]
    next_cursor: str | None


class StockLevel(_Answer):
    sku: str
    on_hand: int
    reserved: int
    available: int
    version: int
    updated_at: datetime


class Deadline(_Answer):
    name: str
    due: datetime


class SagaSummary(_Answer):
    saga_id: UUID
    saga_type: str
    order_id: UUID
    status: str
    step: str
    reason: str | None
    deadline: Deadline | None
    version: int
    started_at: datetime
    updated_at: datetime


class SagaHistoryEntry(BaseModel):
    """One event of an instance's history; the event's own fields follow the four every entry has."""

    model_config = ConfigDict(extra="allow")

    version: int
    at: datetime
    type: str
    cause_id: str | None


class SagaView(SagaSummary):
    history: list[SagaHistoryEntry]


class SagaPage(_Answer):
    items: list[SagaSummary]
    next_cursor: str | None


class AuditReport(_Answer):
    violations: list[str]
    rows: dict[str, int]


def documented(model: Any, why: str) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=`: its 200 answer's schema in the document, without validating it at run time."""
    return {200: {"model": model, "description": why}}
