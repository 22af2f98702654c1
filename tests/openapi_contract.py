"""What both contract runs share: schemathesis's configuration and checks, the callers' tokens, a tally of requests."""

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
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


def issued_tokens() -> dict[str, str]:
    """A fresh token per role the runs call with."""
    return {role: api_tokens.issue() for role in ROLES}


def tokens_setting(tokens: dict[str, str]) -> str:
    """STREAMKEEP_API_TOKENS admitting each token, held by `contract-<role>`."""
    return ",".join(api_tokens.entry(f"contract-{role}", role, token) for role, token in tokens.items())


def contract_config(max_examples: int) -> SchemathesisConfig:
    """Examples bounded per operation, positive and negative data, every phase a pytest run has (explicit examples,
    coverage's boundary values, then fuzzing).

    A 503 is the contract's "a dependency is down, the read model is behind or the API sheds load: retry after"
    (documented on every /v1 operation as problem+json with Retry-After), not a server fault: not_a_server_error
    accepts it and still fails on every other 5xx. Where a run may meet a 503 is asserted by the run itself.
    """
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "generation": {"max-examples": max_examples, "database": "none"},
            "checks": {"not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "503"]}},
        }
    )


@dataclass
class Tally:
    """The requests one run made: how many, and the statuses each operation answered."""

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


def call_and_check(case: Case, token: str, tally: Tally) -> None:
    """One generated request, as the token's holder: counted, then held to the four checks."""
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    tally.record(case, response.status_code)
    case.validate_response(response, checks=CHECKS)


def report(capsys: pytest.CaptureFixture[str], tally: Tally) -> None:
    """The run's count in the test output, whatever pytest captures."""
    with capsys.disabled():
        print(f"\n{tally.line()}")


def restore_node_id(node: Any) -> None:
    """schemathesis 4.32.5's from_fixture reads and rewrites `item._nodeid`, which pytest 9 no longer has (its node
    id lives in a slot); giving the item the attribute back lets the run proceed, its operations named by subtests."""
    node._nodeid = node.nodeid
