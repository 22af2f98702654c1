"""A bench waits for an acknowledgement on every orders.commands partition; the consistency token names it."""

import pytest

from bench.processes import commands_partition


@pytest.mark.parametrize(
    ("token", "partition"),
    [
        ("orders.commands:2:299903", 2),
        ("orders.commands:0:0", 0),
        ("inventory.commands:1:5", None),  # another context's
        ("embedded:17", None),  # not Kafka's
        ("orders.commands:x:5", None),
        ("", None),
        (None, None),
    ],
)
def test_the_partition_is_read_from_an_orders_commands_token_only(token: str | None, partition: int | None) -> None:
    assert commands_partition(token) == partition
