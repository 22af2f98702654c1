"""Ports the read side depends on; the backends in infra/ implement them."""

from typing import Any, Protocol
from uuid import UUID


class ReadModels(Protocol):
    """Reads rows of the read models."""

    async def order_summary(self, order_id: UUID) -> dict[str, Any] | None: ...


class ReadModelUnavailable(Exception):
    """The read model's store cannot be reached right now."""
