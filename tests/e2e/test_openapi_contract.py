"""The served OpenAPI holds, embedded backend, in-process: schemathesis calls every operation as a writer and as an
admin, and each answer is no server error, of a documented status and content type, and of the documented schema."""

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.python.asgi import shutdown_lifespans

from infra.api import create_app
from infra.security import api_tokens
from infra.security.auth_settings import AuthSettings
from infra.settings import load_settings
from tests.openapi_contract import (
    Tally,
    call_and_check,
    contract_config,
    issued_tokens,
    report,
    restore_node_id,
    tokens_setting,
)
from tests.platform import free_port

MAX_EXAMPLES = 20
TOKENS = issued_tokens()
TALLIES = {role: Tally(f"embedded as {role}") for role in TOKENS}
# The embedded backend has no schema registry: its schema routes answer 503 "Schema registry unavailable".
SCHEMA_ROUTES = "/v1/schemas"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    data = tmp_path_factory.mktemp("contract")
    settings = replace(
        load_settings(),
        backend="embedded",
        kafka_bootstrap_servers="",
        data_dir=Path(data) / ".streamkeep",
        # Nothing listens there: the same answer on every machine, whatever registry the environment names.
        schema_registry_url=f"http://127.0.0.1:{free_port()}",
        auth=AuthSettings(api_tokens=api_tokens.parse(tokens_setting(TOKENS))),
    )
    yield create_app(settings)
    # schemathesis starts the app's lifespan on its first request and keeps it; end it with the module.
    shutdown_lifespans()


@pytest.fixture(scope="module")
def served_openapi(app: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=contract_config(MAX_EXAMPLES))


@pytest.fixture(autouse=True)
def _node_id(request: pytest.FixtureRequest) -> None:
    restore_node_id(request.node)


schema = schemathesis.pytest.from_fixture("served_openapi")


@schema.parametrize()
def test_every_operation_answers_as_documented_to_a_writer(case: Any) -> None:
    call_and_check(case, TOKENS["writer"], TALLIES["writer"])


@schema.parametrize()
def test_every_operation_answers_as_documented_to_an_admin(case: Any) -> None:
    call_and_check(case, TOKENS["admin"], TALLIES["admin"])


@pytest.mark.parametrize("role", TOKENS)
def test_each_run_made_requests_and_met_503_only_on_the_schema_routes(
    capsys: pytest.CaptureFixture[str], role: str
) -> None:
    tally = TALLIES[role]
    report(capsys, tally)

    assert tally.requests > 0, "the run made no request: did the contract test above run?"
    assert {label for label in tally.answering(503) if SCHEMA_ROUTES not in label} == set()
