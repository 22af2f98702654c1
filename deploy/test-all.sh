#!/usr/bin/env bash
# Install Streamkeep with its test tools, bring up local Kafka, a schema registry and PostgreSQL, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e ".[test]"

# The PostgreSQL server binaries come from Debian; install them when missing and we may.
if [ -z "${DATABASE_URL:-}" ] && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
fi

if [ -n "${CI:-}" ]; then
  # A CI run starts from empty stores, as on a fresh machine: a reused one keeps Kafka's and PostgreSQL's data
  # between runs, and the suite's loads would pile up there run after run (aggregates to load, topics to read).
  .venv/bin/streamkeep infra down --purge >&2
  # And it leaves nothing of ours running behind it.
  trap '.venv/bin/streamkeep infra down >&2 || true' EXIT
fi
eval "$(.venv/bin/streamkeep infra up)"
# The suite takes about 13 minutes here. Past 75, pytest is interrupted (SIGINT), so it still prints where it was
# and what failed, well before CI's 90-minute limit ends the run without a word. Each test has its own limit too
# (pyproject.toml), and ten failures end the run: a broken stack would make every later test wait out its own.
timeout --signal=INT --kill-after=60 75m .venv/bin/python -m pytest --maxfail=10 "$@"
# The test topics now hold events: every local schema must read them, and the registry's versions.
.venv/bin/streamkeep schemas check
