"""Every log line, a plain `logging` call or a structlog one, comes out as JSON with our fields, or as console text."""

import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime

import pytest
import structlog
from structlog.contextvars import bound_contextvars

from infra.observability import logs
from infra.settings import SettingsError, log_format


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Logging configured onto a buffer for the test, and put back as pytest had it afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    structlog.reset_defaults()
    logs.set_role("cli")


def test_a_standard_library_line_is_json_with_time_level_logger_role_and_the_bound_ids(captured: io.StringIO) -> None:
    logs.configure_logging("json", stream=captured)
    logs.set_role("worker:commands")

    with bound_contextvars(correlation_id="c-1", command_id="k-1", saga_id="s-1", context="orders"):
        logging.getLogger("infra.write_side.somewhere").warning(
            "applied %d events", 3, extra={"topic": "orders.events", "partition": 2, "offset": 41}
        )

    line = json.loads(captured.getvalue().splitlines()[-1])
    assert line["event"] == "applied 3 events"
    assert line["level"] == "warning"
    assert line["logger"] == "infra.write_side.somewhere"
    assert line["role"] == "worker:commands"
    assert datetime.fromisoformat(line["time"]).utcoffset() is not None
    assert (line["correlation_id"], line["command_id"], line["saga_id"], line["context"]) == (
        "c-1",
        "k-1",
        "s-1",
        "orders",
    )
    assert (line["topic"], line["partition"], line["offset"]) == ("orders.events", 2, 41)


def test_a_structlog_line_and_an_exception_come_out_as_json_too(captured: io.StringIO) -> None:
    logs.configure_logging("json", stream=captured)
    logs.set_role("api")

    structlog.get_logger("infra.api").info("started", port=8000)
    try:
        raise ValueError("bad value")
    except ValueError:
        logging.getLogger("uvicorn.error").exception("request failed")

    started, failed = (json.loads(text) for text in captured.getvalue().splitlines()[-2:])
    assert (started["event"], started["port"], started["role"], started["logger"]) == (
        "started",
        8000,
        "api",
        "infra.api",
    )
    assert failed["level"] == "error" and failed["logger"] == "uvicorn.error"
    assert failed["exception"][0]["exc_type"] == "ValueError"
    assert all("locals" not in frame for frame in failed["exception"][0]["frames"]), "locals may hold secrets"


def test_the_console_form_is_one_readable_line_with_the_same_fields(captured: io.StringIO) -> None:
    logs.configure_logging("console", stream=captured)
    logs.set_role("run")

    with bound_contextvars(correlation_id="c-2"):
        logging.getLogger("infra.worker").info("worker running: %s", "commands")

    line = captured.getvalue().splitlines()[-1]
    assert not line.startswith("{")
    assert "worker running: commands" in line
    assert "info" in line and "infra.worker" in line
    assert "role=run" in line and "correlation_id=c-2" in line


def test_quiet_libraries_say_only_warnings(captured: io.StringIO) -> None:
    logs.configure_logging("json", stream=captured)

    logging.getLogger("aiokafka.conn").info("connected")
    logging.getLogger("aiokafka.conn").warning("lost the connection")

    assert [json.loads(line)["event"] for line in captured.getvalue().splitlines()] == ["lost the connection"]


def test_the_format_defaults_by_terminal_and_the_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    assert logs.default_format() == "console"
    monkeypatch.setattr("sys.stderr.isatty", lambda: False)
    assert logs.default_format() == "json"

    monkeypatch.setenv("STREAMKEEP_LOG_FORMAT", "Console")
    assert log_format() == "console"
    monkeypatch.setenv("STREAMKEEP_LOG_FORMAT", "xml")
    with pytest.raises(SettingsError, match="STREAMKEEP_LOG_FORMAT"):
        log_format()


def test_a_line_written_inside_a_span_names_its_trace_and_span_and_one_outside_names_none(
    captured: io.StringIO,
) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    logs.configure_logging("json", stream=captured)
    tracer = TracerProvider().get_tracer("test")  # a provider of the test's own: the global one stays unset
    with tracer.start_as_current_span("decide") as span:
        logging.getLogger("infra.saga_runner.runner").info("inside")
    logging.getLogger("infra.saga_runner.runner").info("outside")

    inside, outside = (json.loads(line) for line in captured.getvalue().splitlines()[-2:])
    context = span.get_span_context()
    assert (inside["trace_id"], inside["span_id"]) == (f"{context.trace_id:032x}", f"{context.span_id:016x}")
    assert "trace_id" not in outside and "span_id" not in outside
