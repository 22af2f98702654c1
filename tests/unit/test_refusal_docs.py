"""The OpenAPI documents what the rate limits and the shedding answer: 429 on limited /v1 operations, 503 on
commands, nothing added to the operational routes."""

import dataclasses
from pathlib import Path

from fastapi.testclient import TestClient

from infra.api import create_app
from infra.settings import load_settings


def _openapi(tmp_path: Path, **settings: object) -> dict:
    chosen = dataclasses.replace(load_settings(), backend="embedded", data_dir=tmp_path / "data", **settings)
    return TestClient(create_app(chosen)).get("/openapi.json").json()  # no lifespan: nothing starts


def test_limited_operations_document_429_and_commands_503(tmp_path: Path) -> None:
    paths = _openapi(tmp_path)["paths"]

    place, read = paths["/v1/orders"]["post"]["responses"], paths["/v1/orders/{order_id}"]["get"]["responses"]
    assert {"429", "503"} <= place.keys()
    assert set(place["429"]["headers"]) == {"Retry-After", "RateLimit", "RateLimit-Policy"}
    assert "application/problem+json" in place["503"]["content"]
    assert "429" in read and "503" not in read
    assert not {"429", "503"} & paths["/livez"]["get"]["responses"].keys()


def test_a_class_switched_off_documents_no_429(tmp_path: Path) -> None:
    paths = _openapi(tmp_path, rate_limit_queries=None)["paths"]

    assert "429" not in paths["/v1/orders/{order_id}"]["get"]["responses"]
    assert "429" in paths["/v1/orders"]["post"]["responses"]
