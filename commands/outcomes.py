"""The outcome of a command, as the command side reports it back to whoever sent it."""

from dataclasses import dataclass
from uuid import UUID

ACCEPTED = "accepted"
REJECTED = "rejected"  # a business rule said no
CONFLICT = "conflict"  # the expected version did not hold, or the aggregate already exists
NOT_FOUND = "not_found"  # the command addresses an aggregate that does not exist


@dataclass(frozen=True)
class Outcome:
    """What became of one command."""

    command_id: UUID
    status: str
    aggregate_id: UUID
    version: int
    consistency_token: str = ""
    rule: str = ""
    message: str = ""
    field: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status == ACCEPTED
