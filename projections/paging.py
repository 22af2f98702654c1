"""Opaque page cursors for lists read newest first: the (moment, id) of the last row a page showed."""

import base64
from datetime import datetime
from uuid import UUID


def cursor_at(moment: datetime, row_id: UUID) -> str:
    """A cursor naming the position just past a row at `moment` with `row_id`."""
    text = f"{moment.isoformat()}|{row_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def parse_cursor(cursor: str) -> tuple[datetime, UUID]:
    """The (moment, id) a cursor names; ValueError when it is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, row_id = text.split("|")
        position = datetime.fromisoformat(moment), UUID(row_id)
    except Exception as error:  # any damage to the text means the same thing to the caller
        raise ValueError("cursor is not one this API gave out") from error
    if position[0].tzinfo is None:
        raise ValueError("cursor is not one this API gave out")
    return position
