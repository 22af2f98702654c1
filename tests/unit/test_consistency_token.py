"""Consistency tokens: parsed in one place, and compared with a read model's checkpoints."""

import pytest

from infra.kafka.event_headers import command_offset_of
from projections.consistency import InvalidToken, Position, command_token, has_passed, parse_token, passed_topics

ORDERS = frozenset({"orders.events"})


def test_a_kafka_token_names_topic_partition_and_offset() -> None:
    assert parse_token("orders.events:2:15") == Position("orders.events", 2, 15)


def test_an_embedded_token_names_a_notification() -> None:
    assert parse_token("embedded:42") == Position("embedded", 0, 42)


@pytest.mark.parametrize(
    "text", ["", "orders.events:2", "orders.events:x:1", "orders.events:1:-1", "embedded:", "x:1:2"]
)
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(InvalidToken):
        parse_token(text)


def test_passed_once_the_checkpoint_reaches_the_tokens_offset() -> None:
    position = Position("orders.events", 1, 10)
    assert not has_passed(position, {}, ORDERS)
    assert not has_passed(position, {("orders.events", 1): 9, ("orders.events", 0): 50}, ORDERS)
    assert has_passed(position, {("orders.events", 1): 10}, ORDERS)


def test_a_token_of_a_topic_the_model_does_not_read_has_nothing_to_wait_for() -> None:
    assert has_passed(Position("inventory.events", 0, 99), {}, ORDERS)


def test_a_command_token_names_the_commands_offset_and_waits_for_the_models_command_checkpoint() -> None:
    token = command_token("orders.commands", 3, 77)
    position = parse_token(token)
    topics = passed_topics("orders")

    assert position == Position("orders.commands", 3, 77)
    assert not has_passed(position, {("orders.events", 3): 500, ("orders.commands", 3): 76}, topics)
    assert has_passed(position, {("orders.events", 3): 500, ("orders.commands", 3): 77}, topics)
    assert has_passed(parse_token("inventory.commands:0:5"), {}, topics)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([("event_type", b"orders.OrderPlaced"), ("command_offset", b"41")], 41),
        ({"command_offset": b"7"}, 7),
        ([("event_type", b"orders.OrderPlaced")], -1),
        (None, -1),
        ([("command_offset", b"not a number")], -1),
    ],
)
def test_the_command_offset_comes_from_the_events_header_when_there_is_one(headers: object, expected: int) -> None:
    assert command_offset_of(headers) == expected  # type: ignore[arg-type]
