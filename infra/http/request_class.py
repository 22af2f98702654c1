"""Which budget a request draws on: commands (writes under /v1), queries (reads under /v1), or none (operations)."""

from typing import Any

COMMANDS, QUERIES = "commands", "queries"
READS = frozenset({"GET", "HEAD", "OPTIONS"})


def request_class(scope: dict[str, Any]) -> str | None:
    """None for /livez, /readyz, /metrics, /docs and /openapi.json: operations are never limited nor shed."""
    if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
        return None
    return QUERIES if scope["method"] in READS else COMMANDS
