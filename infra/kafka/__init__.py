"""Kafka plumbing every side shares: topics, transactions, readers, event streams and headers, supervision."""
