"""Bearer tokens on every /v1 route, on the real app (embedded backend): each role against each class of route,
every kind of bad token a 401 problem+json with its challenge, a writer on an admin route a 403; the probes stay
open, and the served OpenAPI documents the scheme."""

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from uuid import uuid4

import jwt
import pytest
from fastapi.testclient import TestClient

from infra.api import create_app
from infra.security import api_tokens
from infra.security.auth_settings import AuthSettings
from infra.security.jwt_tokens import JwtSettings
from infra.settings import load_settings

SECRET = "the-tests-shared-secret-32-bytes-long"
JWT = JwtSettings(secret=SECRET, issuer="https://id.example", audience="streamkeep")
TOKENS = {role: api_tokens.issue() for role in ("reader", "writer", "admin")}

# One route of each class, with a body its role may send; what matters is that auth lets it through or not.
QUERY = ("GET", "/v1/inventory/SKU-AUTH-1", None)
COMMAND = ("POST", "/v1/inventory/SKU-AUTH-1/restock", {"quantity": 5})
ADMIN = ("POST", "/v1/payments/gateway/script", {"answers": []})
SAGA_ACTION = ("POST", f"/v1/sagas/{uuid4()}/abort", None)
REBUILD = ("POST", "/v1/projections/order_summary/rebuild", None)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, monkeypatch_module: pytest.MonkeyPatch) -> Iterator[TestClient]:
    data = tmp_path_factory.mktemp("auth-app")
    monkeypatch_module.setenv("STREAMKEEP_BACKEND", "embedded")
    monkeypatch_module.setenv("KAFKA_BOOTSTRAP_SERVERS", "")
    entries = ",".join(api_tokens.entry(f"{role}-bot", role, token) for role, token in TOKENS.items())
    settings = replace(
        load_settings(),
        data_dir=Path(data) / ".streamkeep",
        auth=AuthSettings(api_tokens=api_tokens.parse(entries), jwt=JWT),
    )
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def _call(client: TestClient, route: tuple, token: str | None) -> int:
    method, path, body = route
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.request(method, path, json=body, headers=headers).status_code


@pytest.mark.parametrize(
    "role, allowed",
    [
        ("reader", {"query"}),
        ("writer", {"query", "command"}),
        ("admin", {"query", "command", "admin", "saga action", "rebuild"}),
    ],
)
def test_each_role_may_call_its_class_of_route_and_those_below_it_and_gets_403_above(
    client: TestClient, role: str, allowed: set[str]
) -> None:
    routes = {"query": QUERY, "command": COMMAND, "admin": ADMIN, "saga action": SAGA_ACTION, "rebuild": REBUILD}
    answers = {name: _call(client, route, TOKENS[role]) for name, route in routes.items()}

    # Let through, each answers as it would without auth: the SKU (unknown until a restock), restocked, scripted,
    # no such saga, no rebuild on the embedded backend.
    let_through = {"query": {200, 404}, "command": {200}, "admin": {200}, "saga action": {404}, "rebuild": {409}}
    for name, status in answers.items():
        assert status in (let_through[name] if name in allowed else {403}), (role, name, status)


def _jwt(**changes: object) -> str:
    claims = {"sub": "jwt-user", "role": "writer", "iss": JWT.issuer, "aud": JWT.audience, "exp": int(time.time()) + 60}
    claims.update(changes)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, SECRET, algorithm="HS256")


def test_a_jwt_with_the_writer_role_may_send_commands(client: TestClient) -> None:
    assert _call(client, COMMAND, _jwt()) == 200
    assert _call(client, ADMIN, _jwt()) == 403


def _signed_elsewhere() -> str:
    claims = {"sub": "x", "role": "admin", "exp": int(time.time()) + 60}
    return jwt.encode(claims, "another-secret-of-32-bytes-or-more!", algorithm="HS256")


# Tokens made when the test runs: the suite may reach it after a minute-long token made at collection expired.
@pytest.mark.parametrize(
    "header, says",
    [
        (lambda: None, "a bearer token is needed"),
        (lambda: "Bearer", "a bearer token is needed"),
        (lambda: "Basic d3JpdGVyOnNlY3JldA==", "a bearer token is needed"),
        (lambda: "Bearer skt_not-a-token-anyone-issued", "not one this API issued"),
        (lambda: f"Bearer {_jwt(exp=int(time.time()) - 3600)}", "expired"),
        (lambda: f"Bearer {_signed_elsewhere()}", "signature"),
        (lambda: f"Bearer {_jwt(aud='another-api')}", "audience"),
        (lambda: "Bearer eyJhbGciOi.not-base64.at-all", "not a valid JWT"),
    ],
    ids=["missing", "empty", "basic", "unknown", "expired", "wrongly-signed", "wrong-audience", "malformed"],
)
def test_a_request_without_a_token_we_accept_gets_401_problem_json_with_the_bearer_challenge(
    client: TestClient, header: Callable[[], str | None], says: str
) -> None:
    sent = header()
    answer = client.get(QUERY[1], headers={"Authorization": sent} if sent else {})

    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["www-authenticate"].startswith('Bearer realm="streamkeep"')
    assert answer.json()["status"] == 401 and says in answer.json()["detail"]


def test_a_bad_token_s_challenge_says_invalid_token_and_why(client: TestClient) -> None:
    answer = client.get(QUERY[1], headers={"Authorization": f"Bearer {_jwt(exp=int(time.time()) - 3600)}"})

    assert 'error="invalid_token"' in answer.headers["www-authenticate"]
    assert "expired" in answer.json()["detail"]


def test_a_writer_calling_an_admin_route_gets_403_naming_the_role_needed(client: TestClient) -> None:
    answer = client.post(ADMIN[1], json=ADMIN[2], headers={"Authorization": f"Bearer {TOKENS['writer']}"})

    assert answer.status_code == 403
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["required_role"] == "admin"
    assert "writer-bot is a writer" in answer.json()["detail"]


@pytest.mark.parametrize("path", ["/livez", "/readyz", "/metrics", "/openapi.json"])
def test_the_probes_metrics_and_the_api_description_stay_open(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 200


def test_the_served_openapi_documents_the_bearer_scheme_and_the_401_and_403_of_every_v1_operation(
    client: TestClient,
) -> None:
    spec = client.get("/openapi.json").json()

    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    operations = [(p, m, op) for p, ops in spec["paths"].items() for m, op in ops.items() if p.startswith("/v1/")]
    assert operations
    for path, method, operation in operations:
        assert operation["security"] == [{"bearerAuth": []}], (method, path)
        assert {"401", "403"} <= set(operation["responses"]), (method, path)
