"""An admin rebuilds a read model over HTTP: 202 and a status to poll until the swap; one at a time; a writer is
refused 403; an unknown read model is a 404."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from infra.security import api_tokens
from tests.platform import serve_with_tokens, wait_for

pytestmark = pytest.mark.kafka
ADMIN, WRITER = api_tokens.issue(), api_tokens.issue()


@pytest.fixture(scope="module")
def guarded_api(kafka_platform: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    setting = f"{api_tokens.entry('ops', 'admin', ADMIN)},{api_tokens.entry('ci', 'writer', WRITER)}"
    log = Path(tmp_path_factory.mktemp("rebuild-http")) / "api.log"
    with serve_with_tokens(kafka_platform["env"], setting, log) as base_url:
        yield base_url


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_an_admin_starts_a_rebuild_polls_it_to_success_and_a_second_one_meanwhile_is_refused(guarded_api: str) -> None:
    url = f"{guarded_api}/v1/projections/inventory_levels/rebuild"

    started = httpx.post(url, headers=_as(ADMIN), timeout=10)
    again = httpx.post(url, headers=_as(ADMIN), timeout=10)

    assert started.status_code == 202, started.text
    assert started.headers["location"] == "/v1/projections/inventory_levels/rebuild"
    assert started.json()["status"] == "running"
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"

    def finished() -> dict | None:
        answer = httpx.get(url, headers=_as(WRITER), timeout=10).json()
        return answer if answer["status"] != "running" else None

    done = wait_for(finished, 240, "the rebuild to finish")
    assert done["status"] == "succeeded", done
    assert done["result"]["events"] >= 0 and "wall_s" in done["result"], done


def test_a_writer_calling_rebuild_gets_403_and_an_unknown_read_model_404(guarded_api: str) -> None:
    as_writer = httpx.post(f"{guarded_api}/v1/projections/order_summary/rebuild", headers=_as(WRITER), timeout=10)
    unknown = httpx.post(f"{guarded_api}/v1/projections/no_such_model/rebuild", headers=_as(ADMIN), timeout=10)

    assert as_writer.status_code == 403
    assert as_writer.json()["required_role"] == "admin"
    assert unknown.status_code == 404 and "no read model 'no_such_model'" in unknown.json()["detail"]
