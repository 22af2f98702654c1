"""What every HTTP command route shares: the envelope from headers, sending, and refusals as HTTP errors."""

from dataclasses import replace
from datetime import datetime, timezone
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import Header, HTTPException, Path, Request, status
from pydantic import BaseModel

from commands import idempotency
from commands.messages import Command, Envelope
from commands.outcomes import CONFLICT, NOT_FOUND, Outcome
from commands.ports import CommandBus

Sku = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", examples=["SKU-1"])]
IfMatch = Annotated[str | None, Header(description="The version the aggregate must be at.")]
IdempotencyKey = Annotated[str | None, Header(description="Retries with this key get the first answer for 24 h.")]


def envelope_for(route: str, body: BaseModel, if_match: str | None, idempotency_key: str | None) -> Envelope:
    """The envelope of a command sent over HTTP; with an Idempotency-Key its id derives from key and request."""
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


def new_aggregate_id(envelope: Envelope, chosen: UUID | None) -> UUID:
    """The caller's id for a new aggregate, else one derived from the Idempotency-Key so retries agree on it."""
    if chosen is not None:
        return chosen
    return idempotency.aggregate_id_for(envelope.idempotency_key) if envelope.idempotency_key else uuid4()


async def send(request: Request, command: Command, envelope: Envelope) -> Outcome:
    """Dispatch the command and wait for its outcome; a refusal becomes the HTTP error that says why."""
    bus: CommandBus = request.app.state.command_bus
    # Authentication left the caller in request.state (nothing there when auth is off): the events record who asked.
    principal = getattr(request.state, "principal", None)
    if principal is not None:
        envelope = replace(envelope, principal=principal.name)
    outcome = await bus.dispatch(command, envelope)
    if not outcome.accepted:
        raise _refusal(outcome)
    return outcome


def answered(outcome: Outcome) -> dict[str, Any]:
    """What every accepted command's answer carries: the aggregate's new version and a consistency token."""
    return {"version": outcome.version, "consistency_token": outcome.consistency_token}


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
