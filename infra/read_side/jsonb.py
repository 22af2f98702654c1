"""How psycopg turns read-model values into jsonb: orjson, falling back to the standard library for what it refuses."""

import json
from typing import Any

import orjson
from psycopg.types.json import set_json_dumps


def dumps(value: Any) -> bytes | str:
    """orjson's bytes; the standard library's text for values orjson refuses (integers past 64 bits, say), so a
    row that was written before is still written the same."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value)


def use_fast_jsonb() -> None:
    """Make `dumps` psycopg's default for json and jsonb in this process: the standard library's took a quarter of
    a rebuild's batch write (order lines)."""
    set_json_dumps(dumps)
