"""Resilience toward the platform's dependencies: circuit breakers."""
