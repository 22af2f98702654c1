"""Local, Docker-free infrastructure for streamkeep: Kafka (KRaft), Apicurio Registry and PostgreSQL."""
