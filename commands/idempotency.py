"""Idempotency keys: a retried request gets the first answer, whatever raced it, for 24 hours."""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from commands.messages import Envelope
from commands.outcomes import REJECTED, Outcome

WINDOW = timedelta(hours=24)
MAX_KEY_LENGTH = 255
_NAMESPACE = UUID("8a1f4c2e-3b7d-5e90-a6c1-2f4d8b9e0c17")
KEY_REUSED = "idempotency-key-reused"


def scoped_key(route: str, key: str) -> str:
    """Keys are the caller's, per route: the same key on two routes names two requests."""
    return f"{route} {key}"


def command_id_for(scoped: str, request_hash: str) -> UUID:
    """Every identical retry is the same command; a different request under the same key is another one."""
    return uuid5(_NAMESPACE, f"{scoped}\n{request_hash}")


def aggregate_id_for(scoped: str) -> UUID:
    """A new aggregate's id when the caller gave a key but no id: retries address the same aggregate."""
    return uuid5(_NAMESPACE, f"{scoped}\naggregate")


def request_hash(route: str, body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{route}\n{canonical}".encode()).hexdigest()


def key_problem(key: str) -> str | None:
    """Why a key is unusable, or None when it is fine."""
    if not key or len(key) > MAX_KEY_LENGTH:
        return f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters"
    if not key.isprintable():
        return "Idempotency-Key must be printable characters"
    return None


@dataclass(frozen=True)
class Remembered:
    outcome: Outcome
    request_hash: str
    recorded_at: datetime


class IdempotencyLedger:
    """The first outcome of each keyed command, within the window."""

    def __init__(self) -> None:
        self._entries: dict[str, Remembered] = {}

    def answer_for(self, envelope: Envelope) -> Outcome | None:
        """The answer already owed to this command, or None when it has not been decided yet."""
        if envelope.idempotency_key is None:
            return None
        entry = self._entries.get(envelope.idempotency_key)
        if entry is None:
            return None
        if entry.request_hash != envelope.request_hash:
            return Outcome(
                envelope.command_id,
                REJECTED,
                entry.outcome.aggregate_id,
                entry.outcome.version,
                rule=KEY_REUSED,
                message="this Idempotency-Key was already used for a different request",
                field="Idempotency-Key",
            )
        return entry.outcome

    def remember(self, envelope: Envelope, outcome: Outcome, at: datetime) -> None:
        """Record (or complete, e.g. with its consistency token) the answer to a keyed command."""
        if envelope.idempotency_key is not None and envelope.request_hash is not None:
            self._entries[envelope.idempotency_key] = Remembered(outcome, envelope.request_hash, at)

    def remember_entry(self, key: str, entry: Remembered) -> None:
        """Recall an answer from history; the first one recorded under a key is the one owed."""
        self._entries.setdefault(key, entry)

    def forget_before(self, moment: datetime) -> None:
        self._entries = {k: e for k, e in self._entries.items() if e.recorded_at >= moment}

    def __len__(self) -> int:
        return len(self._entries)
