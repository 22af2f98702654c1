"""Settings read from the environment (and a `.env` file in the working directory)."""

import os
from dataclasses import dataclass
from pathlib import Path

import limits.aio.storage  # noqa: F401  (registers the async storages' schemes that _rate_storage checks)
from dotenv import load_dotenv
from limits import parse as parse_rate
from limits.storage import SCHEMES as STORAGE_SCHEMES

from infra.security.auth_settings import AuthSettingError, AuthSettings, load_auth_settings
from sagas.policy import SagaPolicy

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_COMMANDS_RATE = "200/second"
DEFAULT_QUERIES_RATE = "1000/second"
DEFAULT_COMMANDS_IN_FLIGHT = 64  # docs/architecture.md, "Overload": the measurements it was chosen from
OFF = ("off", "none", "0")


@dataclass(frozen=True)
class BreakerSettings:
    """When a circuit breaker toward a dependency opens, and how long it stays open before a probe."""

    failures: int = 5  # consecutive failed calls that open it
    reset_s: float = 10.0  # open this long; then one call goes through as a probe (half-open)


@dataclass(frozen=True)
class Settings:
    backend: str
    kafka_bootstrap_servers: str
    schema_registry_url: str
    database_url: str
    data_dir: Path
    schemas_dir: Path
    partitions: int
    command_timeout_s: float
    sagas: bool = True  # the fulfilment saga runs in `run` and in a worker's default roles
    saga_policy: SagaPolicy = SagaPolicy()
    api_url: str = "http://127.0.0.1:8000"  # where commands that talk to a running platform (`sagas`) find it
    metrics_port: int | None = None  # the worker's /livez, /readyz and /metrics listener; None: no listener
    metrics_host: str = "127.0.0.1"
    # Requests per principal (per client address when anonymous), in the `limits` library's notation; None: off.
    rate_limit_commands: str | None = DEFAULT_COMMANDS_RATE
    rate_limit_queries: str | None = DEFAULT_QUERIES_RATE
    rate_limit_storage: str = "memory://"  # per process; a shared one (redis://...) makes a limit hold across N
    # Commands (non-GET requests under /v1) one API process works on at once; the next is refused with 503.
    max_commands_in_flight: int = DEFAULT_COMMANDS_IN_FLIGHT
    auth: AuthSettings = AuthSettings()  # no tokens: `serve` refuses to start unless auth.no_auth says so
    api_token: str | None = None  # what the CLI sends to a running platform (`sagas retry`, ...)
    breakers: BreakerSettings = BreakerSettings()  # toward PostgreSQL (queries), the registry, the payment gateway

    @property
    def uses_kafka(self) -> bool:
        return self.backend == "kafka"

    @property
    def event_store(self) -> str | None:
        """Kafka's bootstrap servers when the events live there, else None (the embedded backend)."""
        return self.kafka_bootstrap_servers if self.uses_kafka else None


class SettingsError(Exception):
    """A setting has a value we cannot use."""


def load_settings() -> Settings:
    """Read the settings; setting KAFKA_BOOTSTRAP_SERVERS alone implies the kafka backend."""
    load_dotenv(Path.cwd() / ".env", override=False)
    env = os.environ
    bootstrap = env.get("KAFKA_BOOTSTRAP_SERVERS", "")
    backend = env.get("STREAMKEEP_BACKEND", "kafka" if bootstrap else "embedded").strip().lower()
    if backend not in ("embedded", "kafka"):
        raise SettingsError(f"STREAMKEEP_BACKEND must be 'embedded' or 'kafka', not {backend!r}")
    settings = Settings(
        backend=backend,
        kafka_bootstrap_servers=bootstrap or "127.0.0.1:9092",
        schema_registry_url=env.get("SCHEMA_REGISTRY_URL", "http://127.0.0.1:8081/apis/ccompat/v7"),
        database_url=env.get("DATABASE_URL", "postgresql://streamkeep@127.0.0.1:5433/streamkeep"),
        data_dir=Path(env.get("STREAMKEEP_DATA_DIR", ".streamkeep")),
        schemas_dir=Path(env.get("STREAMKEEP_SCHEMAS_DIR", str(REPOSITORY_ROOT / "schemas"))),
        partitions=_positive_int(env, "STREAMKEEP_PARTITIONS", 4),
        command_timeout_s=float(env.get("STREAMKEEP_COMMAND_TIMEOUT_S", "5")),
        sagas=_switch(env, "STREAMKEEP_SAGAS", True),
        api_url=_http_url(env, "STREAMKEEP_API_URL", "http://127.0.0.1:8000"),
        metrics_port=_port(env, "STREAMKEEP_METRICS_PORT"),
        metrics_host=env.get("STREAMKEEP_METRICS_HOST", "127.0.0.1").strip() or "127.0.0.1",
        rate_limit_commands=_rate(env, "STREAMKEEP_RATE_LIMIT_COMMANDS", DEFAULT_COMMANDS_RATE),
        rate_limit_queries=_rate(env, "STREAMKEEP_RATE_LIMIT_QUERIES", DEFAULT_QUERIES_RATE),
        rate_limit_storage=_rate_storage(env, "STREAMKEEP_RATE_LIMIT_STORAGE"),
        max_commands_in_flight=_positive_int(env, "STREAMKEEP_MAX_COMMANDS_IN_FLIGHT", DEFAULT_COMMANDS_IN_FLIGHT),
        auth=_auth(env),
        api_token=env.get("STREAMKEEP_TOKEN", "").strip() or None,
        breakers=BreakerSettings(
            failures=_positive_int(env, "STREAMKEEP_BREAKER_FAILURES", BreakerSettings.failures),
            reset_s=_positive_float(env, "STREAMKEEP_BREAKER_RESET_S", BreakerSettings.reset_s),
        ),
        saga_policy=SagaPolicy(
            payment_timeout_s=_positive_float(env, "STREAMKEEP_PAYMENT_TIMEOUT_S", 30.0),
            reply_timeout_s=_positive_float(env, "STREAMKEEP_SAGA_REPLY_TIMEOUT_S", 5.0),
            max_attempts=_positive_int(env, "STREAMKEEP_SAGA_ATTEMPTS", 5),
        ),
    )
    return settings


def log_format() -> str | None:
    """STREAMKEEP_LOG_FORMAT (json or console), None when unset: the process then picks by its terminal. Read
    before the other settings, so that their own errors are logged in the chosen form."""
    load_dotenv(Path.cwd() / ".env", override=False)
    text = os.environ.get("STREAMKEEP_LOG_FORMAT", "").strip().lower()
    if text and text not in ("json", "console"):
        raise SettingsError(f"STREAMKEEP_LOG_FORMAT must be 'json' or 'console', not {text!r}")
    return text or None


def _auth(env: os._Environ[str]) -> AuthSettings:
    try:
        return load_auth_settings(env)
    except AuthSettingError as error:
        raise SettingsError(str(error)) from None


def _port(env: os._Environ[str], name: str) -> int | None:
    text = env.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise SettingsError(f"{name} must be a port number (1-65535), not {text!r}")
    return int(text)


def _switch(env: os._Environ[str], name: str, default: bool) -> bool:
    text = env.get(name, "on" if default else "off").strip().lower()
    if text not in ("on", "off", "true", "false", "1", "0"):
        raise SettingsError(f"{name} must be 'on' or 'off', not {text!r}")
    return text in ("on", "true", "1")


def _rate(env: os._Environ[str], name: str, default: str) -> str | None:
    """A rate such as `200/second` or `5 per minute` (the `limits` notation), or `off`."""
    text = env.get(name, default).strip().lower()
    if text in OFF:
        return None
    try:
        limit = parse_rate(text)
    except ValueError:
        limit = None
    if limit is None or limit.amount < 1 or ";" in text or "," in text:
        raise SettingsError(f"{name} must be one rate such as '200/second' or '5/minute', or 'off'; not {text!r}")
    return text


def _rate_storage(env: os._Environ[str], name: str) -> str:
    """Where the rate-limit counters live: `memory://` (each process its own) or a `limits` storage URI."""
    text = env.get(name, "memory://").strip()
    scheme = text.split("://", 1)[0]
    if "://" not in text or f"async+{scheme}" not in STORAGE_SCHEMES:
        known = ", ".join(sorted(s.removeprefix("async+") + "://" for s in STORAGE_SCHEMES if s.startswith("async+")))
        raise SettingsError(f"{name} must be a storage URI with one of the schemes {known}; not {text!r}")
    return text


def _http_url(env: os._Environ[str], name: str, default: str) -> str:
    text = env.get(name, default).strip()
    if not text.startswith(("http://", "https://")):
        raise SettingsError(f"{name} must be an http:// or https:// URL, not {text!r}")
    return text.rstrip("/")


def _positive_float(env: os._Environ[str], name: str, default: float) -> float:
    text = env.get(name, str(default))
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise SettingsError(f"{name} must be a positive number of seconds, not {text!r}")
    return value


def _positive_int(env: os._Environ[str], name: str, default: int) -> int:
    text = env.get(name, str(default))
    if not text.isdigit() or int(text) < 1:
        raise SettingsError(f"{name} must be a positive whole number, not {text!r}")
    return int(text)
