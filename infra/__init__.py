"""Adapters and wiring: settings, Kafka, registry, PostgreSQL, the CLI and local infrastructure."""
