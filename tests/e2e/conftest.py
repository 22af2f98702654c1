"""Fixtures of the end-to-end tests: one platform with the fulfilment saga per backend, shared by the saga tests."""

from collections.abc import Iterator

import pytest

from tests.e2e.sagas_platform import start_fulfilment_platform


@pytest.fixture(scope="session", params=["kafka", "embedded"])
def fulfilment(
    request: pytest.FixtureRequest, infra_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict]:
    """Session-wide, so every saga test file shares one platform per backend (they run last: tests/conftest.py)."""
    if request.param != "kafka":
        yield from start_fulfilment_platform(request.param, infra_env, tmp_path_factory)
        return
    # The session's other worker on the shared stack would share the partitions, the simulated gateway's among
    # them: its breaker, with the default settings, would count the gateway's errors instead of this platform's.
    # It stands aside while the saga tests run (the last of the session), and comes back for the teardown.
    other_worker = request.getfixturevalue("kafka_platform")["worker"]
    other_worker.stop()
    try:
        yield from start_fulfilment_platform(request.param, infra_env, tmp_path_factory)
    finally:
        other_worker.start()
