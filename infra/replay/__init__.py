"""Replay from Kafka at speed: events as JSON lines, fanned out over share processes."""
