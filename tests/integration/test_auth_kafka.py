"""Authentication on the Kafka backend, as a user meets it: `serve` will not start without it unless told so, a token
from `streamkeep tokens issue` admits its holder, and the events of a command say who asked for it."""

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ORDER
from tests.platform import free_port, run_cli, serve_with_tokens, wait_for

pytestmark = pytest.mark.kafka


def test_serve_without_auth_settings_exits_non_zero_with_one_clear_line(infra_env: dict[str, str]) -> None:
    env = {**infra_env, "STREAMKEEP_BACKEND": "kafka", "STREAMKEEP_NO_AUTH": "false", "STREAMKEEP_API_TOKENS": ""}

    result = run_cli(["serve", "--port", str(free_port())], env)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("streamkeep: serve refuses to start without authentication"), result.stderr
    assert "--no-auth" in last and "STREAMKEEP_API_TOKENS" in last


def test_tokens_issue_refuses_an_unknown_role_in_one_line() -> None:
    result = run_cli(["tokens", "issue", "--role", "root", "--name", "ci"], {})

    assert result.returncode == 1
    assert result.stderr.strip() == "streamkeep: role must be one of reader, writer, admin, not 'root'"


@pytest.fixture(scope="module")
def issued() -> dict[str, str]:
    """A writer's and a reader's token, from `streamkeep tokens issue`, and the settings line admitting both."""
    writer = run_cli(["tokens", "issue", "--role", "writer", "--name", "ci-writer"], {"STREAMKEEP_API_TOKENS": ""})
    assert writer.returncode == 0, writer.stderr
    writer_token, writer_line = writer.stdout.splitlines()
    reader = run_cli(
        ["tokens", "issue", "--role", "reader", "--name", "dash"],
        {"STREAMKEEP_API_TOKENS": writer_line.split("=", 1)[1]},
    )
    assert reader.returncode == 0, reader.stderr
    reader_token, both = reader.stdout.splitlines()
    assert both.startswith(f"{writer_line},")  # the line keeps the tokens already set
    return {"writer": writer_token, "reader": reader_token, "setting": both.split("=", 1)[1]}


@pytest.fixture(scope="module")
def guarded_api(
    kafka_platform: dict, issued: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A second `serve` with the tokens, beside the suite's platform (whose worker decides its commands)."""
    log = Path(tmp_path_factory.mktemp("guarded-api")) / "api.log"
    with serve_with_tokens(kafka_platform["env"], issued["setting"], log) as base_url:
        yield base_url


def test_the_events_of_a_command_record_the_name_of_the_token_that_sent_it(
    guarded_api: str, issued: dict[str, str], kafka_platform: dict
) -> None:
    as_writer = {"Authorization": f"Bearer {issued['writer']}"}
    placed = wait_for(
        lambda: (
            (r := httpx.post(f"{guarded_api}/v1/orders", json=ORDER, headers=as_writer, timeout=10)).status_code == 201
            and r
        ),
        60,
        "the order to be placed",
    )
    order_id = placed.json()["order_id"]

    events = run_cli(["replay", "--aggregate", order_id], kafka_platform["env"])

    assert events.returncode == 0, events.stderr
    records = [json.loads(line) for line in events.stdout.splitlines()]
    assert [r["type"] for r in records] == ["orders.OrderPlaced"], records
    assert records[0]["data"]["principal"] == "ci-writer", records[0]


def test_a_reader_s_command_is_refused_403_and_leaves_no_event(guarded_api: str, issued: dict[str, str]) -> None:
    as_reader = {"Authorization": f"Bearer {issued['reader']}"}
    order_id = "0b5a7e2c-4a3f-4d7e-9c1a-5e2f3a4b5c6d"

    refused = httpx.post(
        f"{guarded_api}/v1/orders", json={**ORDER, "order_id": order_id}, headers=as_reader, timeout=10
    )
    looked_up = httpx.get(f"{guarded_api}/v1/orders/{order_id}", headers=as_reader, timeout=10)

    assert refused.status_code == 403
    assert refused.json()["detail"] == "dash is a reader; POST /v1/orders needs the writer role"
    assert looked_up.status_code == 404
