"""One log format for every line a process writes, ours and its libraries': JSON lines, or a console form."""

import logging
import os
import sys
from typing import Any

import structlog
from opentelemetry import trace
from structlog.tracebacks import ExceptionDictTransformer

FORMATS = ("json", "console")
# Their INFO is a line per connection or rebalance step: a flood at load, nothing an operator acts on.
_QUIET = ("aiokafka", "faust", "mode", "httpx", "httpx2", "uvicorn.access")
_process = {"role": "cli"}


def default_format() -> str:
    """Console in a terminal, JSON lines for whatever collects the output otherwise."""
    return "console" if sys.stderr.isatty() else "json"


def set_role(role: str) -> None:
    """Names what this process is (api, run, worker:ROLES) on every line it logs from now on."""
    _process["role"] = role


def _add_process(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
    # A module-level value, not a contextvar: the command processors log from threads started without our context.
    event.setdefault("role", _process["role"])
    event.setdefault("pid", os.getpid())
    return event


def _add_trace(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
    # The span being handled when the line was written (tracing on), so a line finds its trace and back.
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event.setdefault("trace_id", format(context.trace_id, "032x"))
        event.setdefault("span_id", format(context.span_id, "016x"))
    return event


def _drop_color_message(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
    # uvicorn passes its message again with terminal colours as an `extra`; the plain one is already there.
    event.pop("color_message", None)
    return event


def _common() -> list[Any]:
    """What every line gets: the bound context, level, logger, time, process."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
        _add_process,
        _add_trace,
    ]


def _renderer(fmt: str, stream: Any) -> list[Any]:
    # Tracebacks without each frame's locals: those hold request headers (tokens) and whole batches.
    if fmt == "console":
        without_locals = structlog.dev.RichTracebackFormatter(show_locals=False)
        return [
            structlog.dev.ConsoleRenderer(
                colors=stream.isatty(), timestamp_key="time", exception_formatter=without_locals
            )
        ]
    tracebacks = structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False))
    return [tracebacks, structlog.processors.JSONRenderer()]


def formatter(fmt: str, stream: Any) -> logging.Formatter:
    """The stdlib formatter that renders every record, a plain `logging` call or a structlog one, in `fmt`."""
    return structlog.stdlib.ProcessorFormatter(
        # ExtraAdder: the `extra=` fields of a logging call (e.g. topic, partition, offset) become fields of the line.
        foreign_pre_chain=[*_common(), structlog.stdlib.ExtraAdder(), _drop_color_message],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *_renderer(fmt, stream)],
    )


def configure_logging(fmt: str | None = None, level: int = logging.INFO, stream: Any = None) -> None:
    """Route the standard library's logging (Faust's, uvicorn's, ours) and structlog through one formatter on
    stderr. Idempotent: a spawned `serve --workers` process calls it again."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter(fmt or default_format(), stream))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # uvicorn's own handlers would print a second, differently formatted line.
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    structlog.configure(
        processors=[*_common(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
