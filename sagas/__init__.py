"""Orchestrated sagas, pure: what each instance records, what reaches it, and what it decides (no I/O)."""
