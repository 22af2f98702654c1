"""OrderPlaced's versions 1, 2 and 3 registered in order under a throwaway subject, for tests needing a history."""

from collections.abc import Iterator
from contextlib import contextmanager

from infra.registry.client import Registry
from tests.platform import ROOT

HISTORY = ROOT / "tests" / "data" / "schema_history"
VERSIONS = (
    HISTORY / "orders.OrderPlaced.v1.avsc",
    HISTORY / "orders.OrderPlaced.v2.avsc",
    HISTORY / "orders.OrderPlaced.v3.avsc",
)


@contextmanager
def order_placed_history(registry_url: str, subject: str) -> Iterator[str]:
    """The three versions under `subject` (never a live one), deleted for good afterwards."""
    registry = Registry(registry_url)
    try:
        for path in VERSIONS:
            registry.register(subject, path.read_text())
        yield subject
    finally:
        registry.client.delete_subject(subject)
        registry.client.delete_subject(subject, permanent=True)
