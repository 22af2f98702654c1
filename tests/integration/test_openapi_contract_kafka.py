"""The served OpenAPI holds on the Kafka backend: schemathesis calls every operation of a real `serve` with tokens, as
a writer and as an admin, and each answer is no server error, of a documented status and content type, and of the
documented schema. Commands go all the way round: the suite's worker decides them."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis import Case

from tests.openapi_contract import (  # noqa: F401 - the shared tests and their fixture run against this backend
    ContractRun,
    contract_config,
    schemathesis_node_id,
    seed,
    test_every_operation_answers_as_documented_to_a_writer,
    test_every_operation_answers_as_documented_to_an_admin,
    test_then_each_run_made_requests_and_met_503_only_where_a_dependency_is_absent,
)
from tests.platform import serve_with_tokens

pytestmark = pytest.mark.kafka

# Fewer than in-process: each command waits for the worker's outcome. The coverage phase's boundary values come on
# top (over a thousand requests a role); both roles take well under a minute.
MAX_EXAMPLES = 10


GATEWAY_SCRIPT = "/v1/payments/gateway/script"


def approvals_only(case: Case) -> None:
    """The stack's payment gateway serves every test: a generated script may approve, late or not, but not fail,
    decline or time out (failures would open the gateway breaker of the suite's worker, and the saga tests' payments
    would be declined). The route's answer and its refusals are checked all the same."""
    if case.operation.path != GATEWAY_SCRIPT or not isinstance(case.body, dict):
        return
    answers = case.body.get("answers")
    for answer in answers if isinstance(answers, list) else []:
        if isinstance(answer, dict) and answer.get("outcome") in ("decline", "timeout", "error"):
            answer["outcome"] = "approve"


@pytest.fixture(scope="module")
def contract_run() -> ContractRun:
    # Every dependency is up: no route may answer 503.
    return ContractRun("kafka", adjust=approvals_only)


@pytest.fixture(scope="module")
def guarded_api(
    kafka_platform: dict, contract_run: ContractRun, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    log = Path(tmp_path_factory.mktemp("contract-api")) / "api.log"
    with serve_with_tokens(kafka_platform["env"], contract_run.tokens_setting, log) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def served_openapi(guarded_api: str, contract_run: ContractRun) -> Iterator[Any]:
    def post(path: str, body: dict[str, Any], role: str = "writer") -> dict[str, Any]:
        answer = httpx.post(f"{guarded_api}{path}", json=body, headers=contract_run.headers(role), timeout=10)
        assert answer.status_code in (200, 201), answer.text
        return dict(answer.json())

    config = contract_config(MAX_EXAMPLES, seed(post))
    yield schemathesis.openapi.from_url(f"{guarded_api}/openapi.json", config=config)
    # What the run scripted and no payment consumed is dropped: the gateway approves again, as the suite expects.
    assert post(GATEWAY_SCRIPT, {"answers": []}, role="admin") == {"scripted": 0}
