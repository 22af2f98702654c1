"""The command side on Kafka: command bus and processor, aggregate loading and snapshots, the payment gateway."""
