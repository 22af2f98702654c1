"""Schema views for decoders that need fewer Python objects than the plain codec makes (uuids as checked text)."""

import re
from typing import Any
from uuid import UUID

from fastavro.read import LOGICAL_READERS

UUID_TEXT = "streamkeep-uuid-text"
ENVELOPE_TIME = "occurred_at"
# Envelope ids no domain event keeps (record_to_event drops them): their UUID objects would be made for nothing.
UNREAD_IDS = ("command_id", "correlation_id")
_CANONICAL = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def uuid_text(data: str, *_: Any) -> str:
    """What `str(UUID(data))` gives, without making the object when the text is already canonical (as every
    uuid our own writers store is); anything else is checked and normalised exactly as before."""
    return data if _CANONICAL.fullmatch(data) else str(UUID(data))


def json_lines_view(schema: dict[str, Any]) -> dict[str, Any]:
    """For JSON lines: every uuid read as its text and the top-level `occurred_at` as a plain long (the lines
    leave it out, and making a datetime of it cost more than a uuid)."""
    viewed = _uuids_as_text(schema)
    for field in viewed.get("fields", ()):
        if field["name"] == ENVELOPE_TIME and isinstance(field["type"], dict):
            field["type"] = {k: v for k, v in field["type"].items() if k != "logicalType"}
    return viewed


def event_view(schema: dict[str, Any]) -> dict[str, Any]:
    """For domain events: the envelope ids no event keeps read as text, everything else as the plain codec."""
    fields = [_uuids_as_text(f) if f["name"] in UNREAD_IDS else f for f in schema.get("fields", ())]
    return {**schema, "fields": fields} if "fields" in schema else schema


def _uuids_as_text(node: Any) -> Any:
    # A custom logical type is fastavro's documented way to plug in a reader; it changes no other schema.
    LOGICAL_READERS.setdefault(f"string-{UUID_TEXT}", uuid_text)
    if isinstance(node, list):
        return [_uuids_as_text(item) for item in node]
    if not isinstance(node, dict):
        return node
    viewed = {key: _uuids_as_text(value) for key, value in node.items()}
    if viewed.get("logicalType") == "uuid":
        viewed["logicalType"] = UUID_TEXT
    return viewed
