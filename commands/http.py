"""HTTP command routes: parse the request, build a command, dispatch it, report its outcome."""

from datetime import datetime, timezone
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Header, HTTPException, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from commands import idempotency
from commands.messages import CancelOrder, Command, Envelope, PlaceOrder, RestockItem
from commands.outcomes import CONFLICT, NOT_FOUND, Outcome
from commands.ports import CommandBus
from domain.values import OrderLine

router = APIRouter(prefix="/v1", tags=["commands"])


class OrderLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    sku: str = Field(min_length=1, max_length=64, examples=["SKU-1"])
    quantity: int = Field(examples=[2])
    unit_price_cents: int = Field(examples=[1250])


class PlaceOrderIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "customer_id": "6f1c1f5e-6a7e-4a53-9a44-0f8f6f0b8a11",
                    "currency": "EUR",
                    "lines": [{"sku": "SKU-1", "quantity": 2, "unit_price_cents": 1250}],
                }
            ]
        },
    )

    order_id: UUID | None = Field(
        default=None, description="Chosen by the caller for safe retries; made for you if absent."
    )
    customer_id: UUID
    currency: str = Field(pattern=r"^[A-Z]{3}$", examples=["EUR"])
    lines: list[OrderLineIn]


class CommandAccepted(BaseModel):
    order_id: UUID
    version: int
    consistency_token: str


def _bus(request: Request) -> CommandBus:
    bus: CommandBus = request.app.state.command_bus
    return bus


def _envelope(route: str, body: BaseModel, if_match: str | None, idempotency_key: str | None) -> Envelope:
    if idempotency_key is None:
        return Envelope(uuid4(), datetime.now(timezone.utc), uuid4(), expected_version=_expected_version(if_match))
    if problem := idempotency.key_problem(idempotency_key):
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            detail={"title": "Bad Idempotency-Key", "detail": problem, "field": "Idempotency-Key"},
        )
    scoped = idempotency.scoped_key(route, idempotency_key)
    request_hash = idempotency.request_hash(route, {"body": body.model_dump(mode="json"), "if_match": if_match})
    command_id = idempotency.command_id_for(scoped, request_hash)
    return Envelope(
        command_id=command_id,
        issued_at=datetime.now(timezone.utc),
        correlation_id=command_id,
        expected_version=_expected_version(if_match),
        idempotency_key=scoped,
        request_hash=request_hash,
    )


def _expected_version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    text = if_match.strip().strip('"')
    if not text.isdigit():
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            detail={
                "title": "Bad If-Match",
                "detail": "If-Match must be the expected version, a whole number",
                "field": "If-Match",
            },
        )
    return int(text)


def _refusal(outcome: Outcome) -> HTTPException:
    if outcome.status == NOT_FOUND:
        return HTTPException(status.HTTP_404_NOT_FOUND, detail={"title": "Not found", "detail": outcome.message})
    if outcome.status == CONFLICT:
        return HTTPException(
            status.HTTP_409_CONFLICT,
            detail={"title": "Version conflict", "detail": outcome.message, "current_version": outcome.version},
        )
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail={
            "title": "Business rule broken",
            "detail": outcome.message,
            "rule": outcome.rule,
            "field": outcome.field,
        },
    )


@router.post("/orders", status_code=status.HTTP_201_CREATED, response_model=CommandAccepted)
async def place_order(
    body: PlaceOrderIn,
    request: Request,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> CommandAccepted:
    """Place an order; answers once the orders context has accepted or refused it.

    With an `Idempotency-Key`, every retry within 24 h gets the first answer (and the same order id).
    """
    route = "POST /v1/orders"
    envelope = _envelope(route, body, if_match, idempotency_key)
    default_id = idempotency.aggregate_id_for(envelope.idempotency_key) if envelope.idempotency_key else uuid4()
    command = PlaceOrder(
        order_id=body.order_id or default_id,
        customer_id=body.customer_id,
        currency=body.currency,
        lines=[OrderLine(line.sku, line.quantity, line.unit_price_cents) for line in body.lines],
    )
    outcome = await _send(request, command, envelope)
    response.headers["Location"] = f"/v1/orders/{command.order_id}"
    return CommandAccepted(
        order_id=command.order_id, version=outcome.version, consistency_token=outcome.consistency_token
    )


class CancelOrderIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "customer changed their mind"}]}
    )

    reason: str = Field(min_length=1, max_length=500)


class OrderChanged(BaseModel):
    order_id: UUID
    version: int
    consistency_token: str


class RestockIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [{"quantity": 25}]})

    quantity: int


class StockChanged(BaseModel):
    sku: str
    version: int
    consistency_token: str


Sku = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", examples=["SKU-1"])]
IfMatch = Annotated[str | None, Header(description="The version the aggregate must be at.")]
IdempotencyKey = Annotated[str | None, Header(description="Retries with this key get the first answer for 24 h.")]


async def _send(request: Request, command: Command, envelope: Envelope) -> Outcome:
    outcome = await _bus(request).dispatch(command, envelope)
    if not outcome.accepted:
        raise _refusal(outcome)
    return outcome


@router.post("/orders/{order_id}/cancel", response_model=OrderChanged)
async def cancel_order(
    order_id: UUID,
    body: CancelOrderIn,
    request: Request,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> OrderChanged:
    """Cancel an order that is not yet confirmed, shipped or already ended."""
    route = f"POST /v1/orders/{order_id}/cancel"
    envelope = _envelope(route, body, if_match, idempotency_key)
    outcome = await _send(request, CancelOrder(order_id, body.reason), envelope)
    return OrderChanged(order_id=order_id, version=outcome.version, consistency_token=outcome.consistency_token)


@router.post("/inventory/{sku}/restock", response_model=StockChanged)
async def restock_item(
    sku: Sku, body: RestockIn, request: Request, if_match: IfMatch = None, idempotency_key: IdempotencyKey = None
) -> StockChanged:
    """Stock of a SKU arrived; the first restock makes the SKU known to the inventory."""
    route = f"POST /v1/inventory/{sku}/restock"
    envelope = _envelope(route, body, if_match, idempotency_key)
    outcome = await _send(request, RestockItem(sku, body.quantity), envelope)
    return StockChanged(sku=sku, version=outcome.version, consistency_token=outcome.consistency_token)
