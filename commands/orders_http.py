"""HTTP routes of the orders context: place, cancel, confirm and reject an order."""

from uuid import UUID

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from commands.http_support import IdempotencyKey, IfMatch, Int32, Int64, answered, envelope_for, new_aggregate_id, send
from commands.messages import CancelOrder, ConfirmOrder, PlaceOrder, RejectOrder
from domain.values import OrderLine

router = APIRouter(prefix="/v1/orders", tags=["orders"])


class OrderLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    sku: str = Field(min_length=1, max_length=64, examples=["SKU-1"])
    quantity: Int32 = Field(examples=[2])
    unit_price_cents: Int64 = Field(examples=[1250])


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


class WithReason(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "customer changed their mind"}]}
    )

    reason: str = Field(min_length=1, max_length=500)


class NoFields(BaseModel):
    """The body of a command that needs nothing but its path: empty or absent."""

    model_config = ConfigDict(extra="forbid")


class OrderChanged(BaseModel):
    order_id: UUID
    version: int
    consistency_token: str


@router.post("", status_code=status.HTTP_201_CREATED, response_model=OrderChanged)
async def place_order(
    body: PlaceOrderIn,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> OrderChanged:
    """Place an order; answers once the orders context has accepted or refused it.

    With an `Idempotency-Key`, every retry within 24 h gets the first answer (and the same order id).
    """
    envelope = envelope_for("POST /v1/orders", body, if_match, idempotency_key)
    command = PlaceOrder(
        order_id=new_aggregate_id(envelope, body.order_id),
        customer_id=body.customer_id,
        currency=body.currency,
        lines=[OrderLine(line.sku, line.quantity, line.unit_price_cents) for line in body.lines],
    )
    outcome = await send(request, command, envelope)
    response.headers["Location"] = f"/v1/orders/{command.order_id}"
    return OrderChanged(order_id=command.order_id, **answered(outcome))


@router.post("/{order_id}/cancel", response_model=OrderChanged)
async def cancel_order(
    order_id: UUID, body: WithReason, request: Request, if_match: IfMatch = None, idempotency_key: IdempotencyKey = None
) -> OrderChanged:
    """Cancel an order that is not yet confirmed, shipped or already ended."""
    envelope = envelope_for(f"POST /v1/orders/{order_id}/cancel", body, if_match, idempotency_key)
    outcome = await send(request, CancelOrder(order_id, body.reason), envelope)
    return OrderChanged(order_id=order_id, **answered(outcome))


@router.post("/{order_id}/confirm", response_model=OrderChanged)
async def confirm_order(
    order_id: UUID,
    request: Request,
    body: NoFields | None = None,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> OrderChanged:
    """Confirm a placed order (the fulfilment saga's last step; here for operators too)."""
    envelope = envelope_for(f"POST /v1/orders/{order_id}/confirm", body or NoFields(), if_match, idempotency_key)
    outcome = await send(request, ConfirmOrder(order_id), envelope)
    return OrderChanged(order_id=order_id, **answered(outcome))


@router.post("/{order_id}/reject", response_model=OrderChanged)
async def reject_order(
    order_id: UUID, body: WithReason, request: Request, if_match: IfMatch = None, idempotency_key: IdempotencyKey = None
) -> OrderChanged:
    """Reject a placed order that cannot be fulfilled (the fulfilment saga's compensation; here for operators too)."""
    envelope = envelope_for(f"POST /v1/orders/{order_id}/reject", body, if_match, idempotency_key)
    outcome = await send(request, RejectOrder(order_id, body.reason), envelope)
    return OrderChanged(order_id=order_id, **answered(outcome))
