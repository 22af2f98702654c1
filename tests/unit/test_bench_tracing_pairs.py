"""`bench commands --tracing-pairs`: each pair runs its halves in the other order from the one before."""

from bench.commands import halves


def test_pairs_alternate_which_half_runs_first_and_each_runs_both() -> None:
    orders = [halves(index) for index in range(4)]
    assert orders == [("off", "on"), ("on", "off"), ("off", "on"), ("on", "off")]
    assert all(sorted(order) == ["off", "on"] for order in orders)
