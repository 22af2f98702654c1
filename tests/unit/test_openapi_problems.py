"""The served document names the problem answers of each class of /v1 operation, as problem+json, with Retry-After
where a client is told to wait; the contract tests meet most of them, this holds the ones a quiet run never meets."""

from typing import Any

import pytest

from infra.api import create_app
from infra.settings import load_settings


@pytest.fixture(scope="module")
def operations() -> dict[str, dict[str, Any]]:
    spec = create_app(load_settings()).openapi()
    return {f"{m.upper()} {p}": op for p, ops in spec["paths"].items() for m, op in ops.items() if p.startswith("/v1/")}


def _problem(operation: dict[str, Any], status: str) -> dict[str, Any]:
    answer: dict[str, Any] = operation["responses"][status]
    assert answer["content"] == {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    return answer


def test_every_v1_operation_may_be_rate_limited_or_unavailable_and_is_told_when_to_retry(
    operations: dict[str, dict[str, Any]],
) -> None:
    assert len(operations) > 20
    for label, operation in operations.items():
        assert _problem(operation, "429")["headers"].keys() >= {"Retry-After", "RateLimit", "RateLimit-Policy"}, label
        assert _problem(operation, "503")["headers"]["Retry-After"]["required"], label


def test_a_command_documents_bad_json_too_large_conflict_and_invalid_and_its_aggregate_not_found(
    operations: dict[str, dict[str, Any]],
) -> None:
    for status in ("400", "404", "409", "413", "422"):
        _problem(operations["POST /v1/orders/{order_id}/cancel"], status)
    assert "404" not in operations["POST /v1/orders"]["responses"]


def test_the_gateway_script_acts_on_no_aggregate_so_has_nothing_to_find_or_conflict_with(
    operations: dict[str, dict[str, Any]],
) -> None:
    assert {"404", "409"}.isdisjoint(operations["POST /v1/payments/gateway/script"]["responses"])


def test_a_query_documents_not_found_and_invalid_as_problems_but_no_body_errors(
    operations: dict[str, dict[str, Any]],
) -> None:
    responses = operations["GET /v1/orders/{order_id}"]["responses"]

    _problem(operations["GET /v1/orders/{order_id}"], "404")
    _problem(operations["GET /v1/orders/{order_id}"], "422")
    assert {"400", "409", "413"}.isdisjoint(responses)
    assert responses["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/OrderView"}
