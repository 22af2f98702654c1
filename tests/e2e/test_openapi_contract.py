"""The served OpenAPI holds, embedded backend, in-process: schemathesis calls every operation as a writer and as an
admin, and each answer is no server error, of a documented status and content type, and of the documented schema."""

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.python.asgi import get_client, shutdown_lifespans

from infra.api import create_app
from infra.security import api_tokens
from infra.security.auth_settings import AuthSettings
from infra.settings import load_settings
from tests.openapi_contract import (  # noqa: F401 - the shared tests and their fixture run against this backend
    ContractRun,
    contract_config,
    schemathesis_node_id,
    seed,
    test_every_operation_answers_as_documented_to_a_writer,
    test_every_operation_answers_as_documented_to_an_admin,
    test_then_each_run_made_requests_and_met_503_only_where_a_dependency_is_absent,
)
from tests.platform import free_port

MAX_EXAMPLES = 20


@pytest.fixture(scope="module")
def contract_run() -> ContractRun:
    # The embedded backend has no schema registry: its schema routes answer 503 "Schema registry unavailable".
    return ContractRun("embedded", unavailable=("/v1/schemas",))


@pytest.fixture(scope="module")
def app(contract_run: ContractRun, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    data = tmp_path_factory.mktemp("contract")
    settings = replace(
        load_settings(),
        backend="embedded",
        kafka_bootstrap_servers="",
        data_dir=Path(data) / ".streamkeep",
        # Nothing listens there: the same answer on every machine, whatever registry the environment names.
        schema_registry_url=f"http://127.0.0.1:{free_port()}",
        auth=AuthSettings(api_tokens=api_tokens.parse(contract_run.tokens_setting)),
    )
    yield create_app(settings)
    # schemathesis starts the app's lifespan on its first request and keeps it; end it with the module.
    shutdown_lifespans()


@pytest.fixture(scope="module")
def served_openapi(app: FastAPI, contract_run: ContractRun) -> Any:
    with get_client(app) as client:

        def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            answer = client.post(path, json=body, headers=contract_run.headers("writer"))
            assert answer.status_code in (200, 201), answer.text
            return dict(answer.json())

        known = seed(post)
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=contract_config(MAX_EXAMPLES, known))
