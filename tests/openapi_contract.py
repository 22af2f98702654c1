"""The contract run both backends share: schemathesis against the served OpenAPI as a writer and as an admin.

A backend's test module gives two fixtures, `contract_run` (a ContractRun) and `served_openapi` (the schema loaded
from its app or its `serve`, with contract_config), and imports the tests below.
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import pytest
import schemathesis
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from infra.security import api_tokens

# The four the issue names; each answer is held to what the served document says of its operation.
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]
ROLES = ("writer", "admin")
# Fixed, so a failure CI reports is the one a developer replays; change it to explore other inputs.
SEED = 16


def seed(post: Callable[[str, dict[str, Any]], dict[str, Any]]) -> dict[str, list[str]]:
    """An order, a SKU, a payment and a shipment made through the API: path and query values the run may draw, so
    that answers with a body (200, 409, 422 of a business rule) come back and are checked, not only 404s."""
    order_id, customer_id, payment_id, shipment_id = (str(uuid4()) for _ in range(4))
    sku = f"SKU-CONTRACT-{uuid4().hex[:8]}"
    lines = [{"sku": sku, "quantity": 1, "unit_price_cents": 1250}]
    placed = post("/v1/orders", {"order_id": order_id, "customer_id": customer_id, "currency": "EUR", "lines": lines})
    post(f"/v1/inventory/{sku}/restock", {"quantity": 10})
    post("/v1/payments", {"payment_id": payment_id, "order_id": order_id, "amount_cents": 1250, "currency": "EUR"})
    post("/v1/shipments", {"shipment_id": shipment_id, "order_id": order_id, "lines": [{"sku": sku, "quantity": 1}]})
    return {
        "path.order_id": [order_id],
        # A saga instance's id is its order's.
        "path.saga_id": [order_id],
        "path.customer_id": [customer_id],
        "path.sku": [sku],
        "path.payment_id": [payment_id],
        "path.shipment_id": [shipment_id],
        # The registry's subjects are the platform's own (none on the embedded backend, which has no registry).
        "path.subject": ["orders.OrderPlaced"],
        "path.version": ["1", "latest"],
        "query.from": ["1"],
        "query.to": ["latest", "local"],
        "query.after": [placed["consistency_token"]],
    }


def contract_config(max_examples: int, known: dict[str, list[str]]) -> SchemathesisConfig:
    """Examples bounded per operation, positive and negative data, every phase a pytest run has (explicit examples,
    coverage's boundary values, then fuzzing); half the time a parameter the platform knows a value for gets it.

    A 503 is the contract's "a dependency is down, the read model is behind or the API sheds load: retry after"
    (documented on every /v1 operation as problem+json with Retry-After), not a server fault: not_a_server_error
    accepts it and still fails on every other 5xx. Where a run may meet a 503 is asserted by the run itself.
    """
    dictionaries = {parameter.replace(".", "-"): {"values": values} for parameter, values in known.items()}
    bindings = {parameter: {"dictionary": parameter.replace(".", "-"), "probability": 0.5} for parameter in known}
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "dictionaries": dictionaries,
            "parameters": bindings,
            # A command waits at most 5 s for its outcome; no request may hang the run.
            "request-timeout": 10,
            "generation": {"max-examples": max_examples, "database": "none"},
            "checks": {"not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "503"]}},
        }
    )


@dataclass
class Tally:
    """The requests one role's run made: how many, and the statuses each operation answered."""

    title: str
    statuses: dict[str, Counter[int]] = field(default_factory=dict)

    def record(self, case: Case, status: int) -> None:
        self.statuses.setdefault(case.operation.label, Counter())[status] += 1

    @property
    def requests(self) -> int:
        return sum(sum(counter.values()) for counter in self.statuses.values())

    def answering(self, status: int) -> set[str]:
        """The operations that answered this status at least once."""
        return {label for label, counter in self.statuses.items() if counter[status]}

    def line(self) -> str:
        overall = sum(self.statuses.values(), Counter[int]())
        by_status = ", ".join(f"{status}: {count}" for status, count in sorted(overall.items()))
        return f"schemathesis {self.title}: {self.requests} requests over {len(self.statuses)} operations ({by_status})"


@dataclass
class ContractRun:
    """One backend's run: a fresh token per role, a tally per role, and the routes whose dependency it lacks."""

    backend: str
    # Path prefixes that answer 503 on this backend by design; a 503 anywhere else fails the run.
    unavailable: tuple[str, ...] = ()
    # What the backend must change in a generated request before it is sent, if anything (see the Kafka run).
    adjust: Callable[[Case], None] = lambda case: None
    tokens: dict[str, str] = field(default_factory=lambda: {role: api_tokens.issue() for role in ROLES})
    tallies: dict[str, Tally] = field(init=False)

    def __post_init__(self) -> None:
        self.tallies = {role: Tally(f"{self.backend} as {role}") for role in ROLES}

    @property
    def tokens_setting(self) -> str:
        """STREAMKEEP_API_TOKENS admitting each token, held by `contract-<role>`."""
        return ",".join(api_tokens.entry(f"contract-{role}", role, token) for role, token in self.tokens.items())

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def call_and_check(self, case: Case, role: str) -> None:
        """One generated request, as the role's holder: counted, then held to the four checks."""
        self.adjust(case)
        response = case.call(headers=self.headers(role))
        self.tallies[role].record(case, response.status_code)
        case.validate_response(response, checks=CHECKS)


@pytest.fixture(autouse=True)
def schemathesis_node_id(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32.5's from_fixture reads and rewrites `item._nodeid`, which pytest 9 no longer has (its node
    id lives in a slot); giving the item the attribute back lets the run proceed, its operations named by subtests."""
    request.node._nodeid = request.node.nodeid


schema = schemathesis.pytest.from_fixture("served_openapi")


# One role's run takes well under a minute on either backend (see the counts it prints); this bounds a slow one.
RUN_LIMIT_S = 180


@pytest.mark.timeout(RUN_LIMIT_S)
@schema.parametrize()
def test_every_operation_answers_as_documented_to_a_writer(case: Case, contract_run: ContractRun) -> None:
    contract_run.call_and_check(case, "writer")


@pytest.mark.timeout(RUN_LIMIT_S)
@schema.parametrize()
def test_every_operation_answers_as_documented_to_an_admin(case: Case, contract_run: ContractRun) -> None:
    contract_run.call_and_check(case, "admin")


# Runs after the two above (pytest keeps a module's order, and the importing modules' sorted imports keep "then" after
# "every"): it reads their tallies.
@pytest.mark.parametrize("role", ROLES)
def test_then_each_run_made_requests_and_met_503_only_where_a_dependency_is_absent(
    capsys: pytest.CaptureFixture[str], contract_run: ContractRun, role: str
) -> None:
    tally = contract_run.tallies[role]
    with capsys.disabled():  # the count in the test output, whatever pytest captures
        print(f"\n{tally.line()}")

    assert tally.requests > 0, "the run made no request: did the contract tests above run?"
    unexpected = {label for label in tally.answering(503) if not any(p in label for p in contract_run.unavailable)}
    assert unexpected == set(), "every dependency of these routes is up: a 503 hides a fault"
