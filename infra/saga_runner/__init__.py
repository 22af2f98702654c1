"""The saga runner on Kafka: each instance's events, the commands it sends and the offsets it read, one transaction."""
