"""Orchestrated sagas across the bounded contexts (later issue)."""
