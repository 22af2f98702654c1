"""The embedded backend: the whole platform in one process, files under ./.streamkeep/, no Kafka or PostgreSQL."""
