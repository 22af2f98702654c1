"""HTTP routes of the payments context: request, capture, void and refund a payment, and script the gateway."""

from typing import Literal
from uuid import UUID

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from commands.http_support import IdempotencyKey, IfMatch, answered, envelope_for, new_aggregate_id, send
from commands.messages import CapturePayment, RefundPayment, RequestPayment, VoidPayment
from commands.orders_http import NoFields
from commands.ports import PaymentGateway
from domain.gateway import MAX_DELAY_S, GatewayAnswer

router = APIRouter(prefix="/v1/payments", tags=["payments"])


class RequestPaymentIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"order_id": "0b9d6c9e-2f4a-4d8e-9a51-3c1e7f2a6b10", "amount_cents": 2500, "currency": "EUR"}]
        },
    )

    payment_id: UUID | None = Field(default=None, description="Chosen by the caller for safe retries.")
    order_id: UUID
    amount_cents: int = Field(strict=True)
    currency: str = Field(pattern=r"^[A-Z]{3}$", examples=["EUR"])


class RefundIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"amount_cents": 500}]})

    amount_cents: int = Field(strict=True)


class PaymentChanged(BaseModel):
    payment_id: UUID
    version: int
    consistency_token: str


class GatewayAnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["approve", "decline", "timeout", "error"] = Field(
        description="error: the gateway fails instead of answering (its circuit breaker counts it); the payment is "
        "declined as 'gateway unavailable'."
    )
    reason: str | None = Field(default=None, max_length=500, description="Why a decline was declined, or the error.")
    authorisation_code: str | None = Field(default=None, min_length=1, max_length=64)
    delay_s: float = Field(
        default=0.0, ge=0, le=MAX_DELAY_S, description="Answer this long after the request: a late approve or decline."
    )


class GatewayScriptIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"answers": [{"outcome": "decline", "reason": "insufficient funds"}, {"outcome": "timeout"}]}]
        },
    )

    answers: list[GatewayAnswerIn] = Field(max_length=1000)


class GatewayScripted(BaseModel):
    scripted: int = Field(description="How many answers the gateway will give before approving again.")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PaymentChanged)
async def request_payment(
    body: RequestPaymentIn,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> PaymentChanged:
    """Ask for an order's amount; the simulated gateway's answer (authorised or declined) follows as an event."""
    envelope = envelope_for("POST /v1/payments", body, if_match, idempotency_key)
    command = RequestPayment(
        new_aggregate_id(envelope, body.payment_id), body.order_id, body.amount_cents, body.currency
    )
    outcome = await send(request, command, envelope)
    response.headers["Location"] = f"/v1/payments/{command.payment_id}"
    return PaymentChanged(payment_id=command.payment_id, **answered(outcome))


@router.post("/gateway/script", response_model=GatewayScripted)
async def script_gateway(body: GatewayScriptIn, request: Request) -> GatewayScripted:
    """Test hook: the simulated gateway's next answers, in order, replacing any earlier script; then it approves."""
    answers = [_answer(answer) for answer in body.answers]
    gateway: PaymentGateway = request.app.state.payment_gateway
    await gateway.script(answers)
    return GatewayScripted(scripted=len(answers))


def _answer(answer: GatewayAnswerIn) -> GatewayAnswer:
    if answer.outcome == "approve":
        return GatewayAnswer.approve(answer.authorisation_code, answer.delay_s)
    if answer.outcome == "decline":
        return GatewayAnswer.decline(answer.reason or "declined by the gateway", answer.delay_s)
    if answer.outcome == "error":
        return GatewayAnswer.error(answer.reason or "gateway error", answer.delay_s)
    return GatewayAnswer.timeout()


@router.post("/{payment_id}/capture", response_model=PaymentChanged)
async def capture_payment(
    payment_id: UUID,
    request: Request,
    body: NoFields | None = None,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> PaymentChanged:
    """Take the authorised amount."""
    envelope = envelope_for(f"POST /v1/payments/{payment_id}/capture", body or NoFields(), if_match, idempotency_key)
    outcome = await send(request, CapturePayment(payment_id), envelope)
    return PaymentChanged(payment_id=payment_id, **answered(outcome))


@router.post("/{payment_id}/void", response_model=PaymentChanged)
async def void_payment(
    payment_id: UUID,
    request: Request,
    body: NoFields | None = None,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> PaymentChanged:
    """Let an authorisation go without taking the money."""
    envelope = envelope_for(f"POST /v1/payments/{payment_id}/void", body or NoFields(), if_match, idempotency_key)
    outcome = await send(request, VoidPayment(payment_id), envelope)
    return PaymentChanged(payment_id=payment_id, **answered(outcome))


@router.post("/{payment_id}/refund", response_model=PaymentChanged)
async def refund_payment(
    payment_id: UUID, body: RefundIn, request: Request, if_match: IfMatch = None, idempotency_key: IdempotencyKey = None
) -> PaymentChanged:
    """Give captured money back, in part or whole."""
    envelope = envelope_for(f"POST /v1/payments/{payment_id}/refund", body, if_match, idempotency_key)
    outcome = await send(request, RefundPayment(payment_id, body.amount_cents), envelope)
    return PaymentChanged(payment_id=payment_id, **answered(outcome))
