"""Saga instances seen and operated from outside, on both backends: GET /v1/sagas, retry and abort, and the CLI."""

import json
import time
import uuid
from datetime import datetime, timezone

import httpx
import pytest

from tests.e2e.sagas_platform import (
    get,
    place,
    post,
    saga_finished,
    saga_history,
    script,
    settled,
    stock,
    stocked,
)
from tests.platform import run_cli, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.sagas]


def instance(platform: dict, saga_id: str, expected: str) -> dict:
    """The instance as GET /v1/sagas/{id} shows it, once the read model has it in the status expected."""

    def shown() -> dict | None:
        answer = get(platform, f"/v1/sagas/{saga_id}")
        return answer.json() if answer.status_code == 200 and answer.json()["status"] == expected else None

    return wait_for(shown, 60, f"saga {saga_id} {expected} in the read model")


def problem(answer: httpx.Response, status: int) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    return answer.json()


def of_type(history: list[dict], kind: str) -> list[dict]:
    return [entry for entry in history if entry["type"] == kind]


def test_a_completed_instance_shows_every_command_it_sent_and_the_answer_each_got(fulfilment: dict) -> None:
    sku = stocked(fulfilment)
    script(fulfilment)
    order_id = place(fulfilment, {sku: 2})
    recorded = saga_finished(fulfilment, order_id, "completed")

    saga = instance(fulfilment, order_id, "completed")

    assert (saga["saga_id"], saga["saga_type"], saga["step"], saga["reason"]) == (order_id, "fulfilment", "done", None)
    assert saga["deadline"] is None
    history = saga["history"]
    # The read model's history is the instance's own stream, event for event.
    assert [(e["version"], e["type"]) for e in history] == [(r.version, type(r.event).__name__) for r in recorded]
    assert saga["version"] == len(history)
    sent = {e["command_id"]: (e["step"], e["command_type"]) for e in of_type(history, "CommandSent")}
    assert sorted(sent.values()) == [
        ("capture-payment", "CapturePayment"),
        (f"commit-stock:{sku}", "CommitStock"),
        ("confirm-order", "ConfirmOrder"),
        ("request-payment", "RequestPayment"),
        (f"reserve-stock:{sku}", "ReserveStock"),
        ("schedule-shipment", "ScheduleShipment"),
    ]
    answers = of_type(history, "ReplyReceived")
    assert {a["command_id"]: (a["step"], a["command_type"]) for a in answers if a["command_id"] in sent} == sent
    assert all(a["status"] == "accepted" and a["cause_id"] for a in answers)
    assert [a["command_type"] for a in answers if a["step"] == "payment-answer"] == ["AuthorisePayment"]
    assert [e["name"] for e in of_type(history, "DeadlineSet")] == ["payment-authorised"]
    assert saga["started_at"] == history[0]["at"] and saga["updated_at"] == history[-1]["at"]


def test_a_compensated_instance_shows_the_refusal_that_undid_it_and_the_compensations(fulfilment: dict) -> None:
    plenty, scarce = stocked(fulfilment), stocked(fulfilment, quantity=1)
    order_id = place(fulfilment, {plenty: 2, scarce: 5})

    saga = instance(fulfilment, order_id, "compensated")

    assert saga["step"] == "done" and saga["reason"].startswith(f"out of stock: {scarce}")
    refused = [a for a in of_type(saga["history"], "ReplyReceived") if a["status"] == "rejected"]
    assert [(a["step"], a["command_type"], a["rule"]) for a in refused] == [
        (f"reserve-stock:{scarce}", "ReserveStock", "stock-available")
    ]
    compensations = {e["command_type"] for e in of_type(saga["history"], "CommandSent")} - {"ReserveStock"}
    assert compensations == {"ReleaseStock", "RejectOrder"}
    changes = [(e["status"], e["step"]) for e in of_type(saga["history"], "StatusChanged")]
    assert changes == [("running", "reserving-stock"), ("compensating", "compensating"), ("compensated", "done")]


def test_instances_are_listed_newest_first_by_status_and_age_a_page_at_a_time(fulfilment: dict) -> None:
    for earlier in [place(fulfilment, {f"NONE-{uuid.uuid4()}": 1}) for _ in range(4)]:  # enough for three pages
        instance(fulfilment, earlier, "compensated")
    older = place(fulfilment, {f"NONE-{uuid.uuid4()}": 1})
    instance(fulfilment, older, "compensated")
    time.sleep(2.5)
    newer = place(fulfilment, {f"NONE-{uuid.uuid4()}": 1})
    started = datetime.fromisoformat(instance(fulfilment, newer, "compensated")["started_at"])

    compensated = get(fulfilment, "/v1/sagas", status="compensated", limit=100).json()["items"]
    assert {item["status"] for item in compensated} == {"compensated"}
    assert [item["saga_id"] for item in compensated][:2] == [newer, older]
    assert "history" not in compensated[0]
    assert {item["status"] for item in get(fulfilment, "/v1/sagas", status="completed").json()["items"]} <= {
        "completed"
    }

    # Older than the newer instance by a second: the older one (2.5 s before it) is, the newer one is not.
    age_s = (datetime.now(timezone.utc) - started).total_seconds() + 1
    aged = [
        item["saga_id"] for item in get(fulfilment, "/v1/sagas", older_than=f"{age_s:.1f}s", limit=100).json()["items"]
    ]
    assert older in aged and newer not in aged
    assert newer in [i["saga_id"] for i in get(fulfilment, "/v1/sagas", older_than="0", limit=100).json()["items"]]
    assert get(fulfilment, "/v1/sagas", older_than="1d").json()["items"] == []

    # Three pages of two follow on from each other exactly as one page of six.
    paged, cursor = [], None
    for _ in range(3):
        page = get(fulfilment, "/v1/sagas", status="compensated", limit=2, **({"cursor": cursor} if cursor else {}))
        assert page.status_code == 200, page.text
        assert len(page.json()["items"]) == 2 and page.json()["next_cursor"]
        paged += [item["saga_id"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
    six = get(fulfilment, "/v1/sagas", status="compensated", limit=6).json()["items"]
    assert paged == [item["saga_id"] for item in six]
    assert [item["started_at"] for item in six] == sorted((item["started_at"] for item in six), reverse=True)


def test_what_a_client_gets_wrong_is_a_problem_naming_it(fulfilment: dict) -> None:
    assert "saga_id" in problem(get(fulfilment, "/v1/sagas/not-a-uuid"), 422)["detail"]
    unknown = str(uuid.uuid4())
    assert problem(get(fulfilment, f"/v1/sagas/{unknown}"), 404)["detail"] == f"no saga {unknown}"
    assert problem(post(fulfilment, f"/v1/sagas/{unknown}/abort", {"by": "ops"}), 404)["title"] == "Unknown saga"
    for parameter, value in [("status", "sleeping"), ("older_than", "soon"), ("cursor", "not-ours"), ("limit", 0)]:
        detail = problem(get(fulfilment, "/v1/sagas", **{parameter: value}), 422)["detail"]
        assert detail.startswith(f"{parameter}:"), detail
    assert problem(get(fulfilment, "/v1/sagas", limit=101), 422)["errors"][0]["field"] == "limit"


def test_an_instance_waiting_for_its_payment_is_aborted_compensated_and_says_who_aborted_it(fulfilment: dict) -> None:
    sku = stocked(fulfilment)
    script(fulfilment, {"outcome": "timeout"})
    order_id = place(fulfilment, {sku: 3})
    waiting = wait_for(
        lambda: (s := get(fulfilment, f"/v1/sagas/{order_id}").json()).get("deadline") and s,
        10,
        "the saga waiting for the payment",
    )
    assert (waiting["status"], waiting["step"], waiting["deadline"]["name"]) == (
        "running",
        "requesting-payment",
        "payment-authorised",
    )

    answer = post(fulfilment, f"/v1/sagas/{order_id}/abort", {"by": "ops@example"})

    assert answer.status_code == 202, answer.text
    assert answer.json() == {"saga_id": order_id, "action": "abort", "accepted": True}
    saga = instance(fulfilment, order_id, "compensated")
    assert (saga["reason"], saga["deadline"]) == ("aborted by ops@example", None)
    [acted] = of_type(saga["history"], "OperatorActed")
    assert (acted["action"], acted["by"], acted["accepted"]) == ("abort", "ops@example", True)
    assert [e["name"] for e in of_type(saga["history"], "DeadlineReached")] == []
    assert settled(fulfilment, order_id, "rejected")["reason"] == "aborted by ops@example"
    assert wait_for(lambda: stock(fulfilment, sku)["reserved"] == 0, 30, "the reservation released")
    # Once compensated, another abort is refused, and so is a retry.
    assert "already compensated" in problem(post(fulfilment, f"/v1/sagas/{order_id}/abort", {}), 409)["detail"]


def test_a_retry_of_a_completed_instance_is_refused_with_the_reason(fulfilment: dict) -> None:
    sku = stocked(fulfilment)
    script(fulfilment)
    order_id = place(fulfilment, {sku: 1})
    instance(fulfilment, order_id, "completed")

    refused = problem(httpx.post(f"{fulfilment['base_url']}/v1/sagas/{order_id}/retry", timeout=30), 409)

    assert refused["detail"] == "only a stuck instance can be retried; this one is completed"
    assert len(saga_history(fulfilment, order_id)) == instance(fulfilment, order_id, "completed")["version"]


def test_the_cli_shows_an_instance_as_a_timeline_and_lists_instances_as_json(fulfilment: dict) -> None:
    sku = stocked(fulfilment)
    script(fulfilment, {"outcome": "decline", "reason": "insufficient funds"})
    order_id = place(fulfilment, {sku: 1})
    instance(fulfilment, order_id, "compensated")

    shown = run_cli(["sagas", "show", order_id], fulfilment["env"])
    listed = run_cli(["sagas", "list", "--status", "compensated", "--json"], fulfilment["env"])

    assert shown.returncode == 0, shown.stderr
    assert "compensated" in shown.stdout and "payment declined (insufficient funds)" in shown.stdout
    for said in ("FulfilmentStarted", "ReserveStock sent (attempt 1)", "DeclinePayment: accepted", "ReleaseStock"):
        assert said in shown.stdout, said
    assert listed.returncode == 0, listed.stderr
    items = json.loads(listed.stdout)
    assert order_id in [item["saga_id"] for item in items]
    assert {item["status"] for item in items} == {"compensated"}


def test_the_cli_says_in_one_line_that_a_saga_is_unknown(fulfilment: dict) -> None:
    unknown = str(uuid.uuid4())

    result = run_cli(["sagas", "show", unknown], fulfilment["env"])

    assert result.returncode == 1
    assert result.stderr.strip() == f"streamkeep: no saga {unknown}"
    assert result.stdout == ""


def audit(platform: dict, *about: str) -> list[str]:
    """The audit's lines that name any of `about` (a stack other runs used may hold others' leftovers); its exit
    code says whether it found anything at all."""
    result = run_cli(["sagas", "audit"], platform["env"])
    lines = result.stdout.splitlines()
    found = [line for line in lines if line.startswith(("order ", "SKU "))]
    assert result.returncode == (1 if found else 0), result.stdout + result.stderr
    return [line for line in found if any(name in line for name in about)]


def test_the_audit_finds_nothing_wrong_then_names_stock_held_for_an_order_whose_fulfilment_ended(
    fulfilment: dict,
) -> None:
    sku = stocked(fulfilment)
    script(fulfilment, {"outcome": "decline", "reason": "insufficient funds"})
    order_id = place(fulfilment, {sku: 2})
    saga_finished(fulfilment, order_id, "compensated")
    instance(fulfilment, order_id, "compensated")
    wait_for(lambda: stock(fulfilment, sku)["reserved"] == 0, 30, "the reservation released")

    wait_for(lambda: audit(fulfilment, order_id, sku) == [], 60, "a clean audit of this order")

    # Stock set aside by hand for the rejected order: nobody will ever release it.
    held = post(fulfilment, f"/v1/inventory/{sku}/reserve", {"order_id": order_id, "quantity": 3})
    assert held.status_code == 200, held.text
    wait_for(lambda: stock(fulfilment, sku)["reserved"] == 3, 30, "the stray reservation in the read model")
    found = wait_for(lambda: audit(fulfilment, order_id, sku), 60, "the audit to find it")

    assert found == [f"order {order_id}: 3 of {sku} still held, its fulfilment compensated"]
    assert post(fulfilment, f"/v1/inventory/{sku}/release", {"order_id": order_id}).status_code == 200
    wait_for(lambda: audit(fulfilment, order_id, sku) == [], 60, "the audit clean again once it is released")
