"""How the simulated gateway's answer to a payment request comes back: as a command to the payments context."""

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from commands.messages import AuthorisePayment, Command, DeclinePayment, Envelope
from domain.gateway import APPROVED, DECLINED, FAILED, GatewayAnswer

# The decline's reason when the gateway failed, or its circuit breaker did not let the request through.
GATEWAY_UNAVAILABLE = "gateway unavailable"


def authorisation_code_for(payment_id: UUID) -> str:
    """The code an approval carries unless scripted: derived from the payment, so a replayed answer is the same."""
    return f"AUTH-{uuid5(NAMESPACE_URL, f'gateway:{payment_id}').hex[:10].upper()}"


def answer_command(payment_id: UUID, answer: GatewayAnswer) -> Command | None:
    """The command that records the gateway's answer; None when it timed out (the payment stays requested). A call
    that failed is a decline, "gateway unavailable": the payment is not taken, and the saga compensates."""
    if answer.outcome == APPROVED:
        return AuthorisePayment(payment_id, answer.authorisation_code or authorisation_code_for(payment_id))
    if answer.outcome == DECLINED:
        return DeclinePayment(payment_id, answer.reason or "declined by the gateway")
    if answer.outcome == FAILED:
        return DeclinePayment(payment_id, GATEWAY_UNAVAILABLE)
    return None


def answer_envelope(request: Envelope, at: datetime) -> Envelope:
    """The answer is caused by the request and shares its correlation and reply address (a saga waits for it);
    its id derives from the request's."""
    return Envelope(
        command_id=uuid5(request.command_id, "gateway-answer"),
        issued_at=at,
        correlation_id=request.correlation_id,
        causation_id=request.command_id,
        reply_to=request.reply_to,
    )
