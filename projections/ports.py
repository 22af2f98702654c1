"""Ports the read side depends on; the backends in infra/ implement them."""

from datetime import datetime
from typing import Any, Protocol
from uuid import UUID


class ReadModels(Protocol):
    """Reads rows of the read models, and how far each has got."""

    async def order_summary(self, order_id: UUID) -> dict[str, Any] | None: ...

    async def customer_orders(
        self, customer_id: UUID, limit: int, after: tuple[datetime, UUID] | None
    ) -> list[dict[str, Any]]: ...

    async def inventory_level(self, item_id: UUID) -> dict[str, Any] | None: ...

    async def saga_instance(self, saga_id: UUID) -> dict[str, Any] | None: ...

    async def saga_instances(
        self, status: str | None, started_before: datetime | None, limit: int, after: tuple[datetime, UUID] | None
    ) -> list[dict[str, Any]]:
        """Instances newest first (by start, then id), past the cursor position `after`; rows without history."""
        ...

    async def checkpoints(self, projection: str) -> dict[tuple[str, int], int]: ...

    async def all_rows(self, projection: str) -> list[dict[str, Any]]:
        """Every row of a read model (the audit reads whole models; history columns left out)."""
        ...


class ReadModelUnavailable(Exception):
    """The read model's store cannot be reached right now."""

    def __init__(self, message: str, retry_after_s: int = 5) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class NotCaughtUp(Exception):
    """The read model has not reached a consistency token within the wait allowed."""

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
