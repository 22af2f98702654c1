"""GET-only query routes that read nothing but the read models."""

import asyncio
import time
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request, status

from domain.inventory import stock_item_id
from projections import customer_orders, inventory_levels, order_summary
from projections.consistency import InvalidToken, has_passed, parse_token, passed_topics
from projections.paging import parse_cursor
from projections.ports import NotCaughtUp, ReadModels
from projections.query_answers import CustomerOrdersPage, OrderView, StockLevel, documented

router = APIRouter(prefix="/v1", tags=["queries"])
WAIT_S = 5.0  # how long ?after= waits for the read model before answering 503
POLL_S = 0.02

After = Annotated[
    str | None,
    Query(description="A command's consistency_token: answer only once the read model includes that command."),
]


def _read_models(request: Request) -> ReadModels:
    read_models: ReadModels = request.app.state.read_models
    return read_models


async def _caught_up(request: Request, projection: Any, token: str | None) -> None:
    """Wait, bounded, until the projection has applied the token's event."""
    if token is None:
        return
    try:
        position = parse_token(token)
    except InvalidToken as error:
        raise _invalid(str(error)) from None
    topics = passed_topics(projection.CONTEXT)
    deadline = time.monotonic() + WAIT_S
    while not has_passed(position, await _read_models(request).checkpoints(projection.NAME), topics):
        if time.monotonic() > deadline:
            raise NotCaughtUp(f"{projection.NAME} has not reached {token} after {WAIT_S:g} s; retry shortly")
        await asyncio.sleep(POLL_S)


def _invalid(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, detail={"title": "Invalid request", "detail": detail})


def _not_found(what: str) -> HTTPException:
    return HTTPException(
        status.HTTP_404_NOT_FOUND, detail={"title": f"Unknown {what.split()[0]}", "detail": f"no {what}"}
    )


@router.get("/orders/{order_id}", response_model=None, responses=documented(OrderView, "The order"))
async def get_order(order_id: UUID, request: Request, after: After = None) -> dict[str, Any]:
    """An order as the order_summary read model holds it."""
    await _caught_up(request, order_summary, after)
    row = await _read_models(request).order_summary(order_id)
    if row is None:
        raise _not_found(f"order {order_id}")
    return order_summary.to_json(row)


@router.get(
    "/customers/{customer_id}/orders",
    response_model=None,
    responses=documented(CustomerOrdersPage, "A page of the customer's orders"),
)
async def get_customer_orders(
    customer_id: UUID,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=customer_orders.MAX_PAGE)] = 20,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    after: After = None,
) -> dict[str, Any]:
    """A customer's orders, newest first, a page at a time (an unknown customer has no orders: empty page)."""
    try:
        position = parse_cursor(cursor) if cursor else None
    except ValueError as error:
        raise _invalid(f"cursor: {error}") from None
    await _caught_up(request, customer_orders, after)
    # One row more than asked tells whether another page follows.
    rows = await _read_models(request).customer_orders(customer_id, limit + 1, position)
    page = rows[:limit]
    more = len(rows) > limit
    return {
        "customer_id": str(customer_id),
        "orders": [customer_orders.to_json(row) for row in page],
        "next_cursor": customer_orders.cursor_after(page[-1]) if more else None,
    }


@router.get("/inventory/{sku}", response_model=None, responses=documented(StockLevel, "The SKU's stock"))
async def get_inventory(sku: str, request: Request, after: After = None) -> dict[str, Any]:
    """Stock of one SKU: on hand, reserved for orders, available to reserve."""
    await _caught_up(request, inventory_levels, after)
    row = await _read_models(request).inventory_level(stock_item_id(sku))
    if row is None:
        raise _not_found(f"SKU {sku}")
    return inventory_levels.to_json(row)
