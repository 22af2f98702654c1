"""How our processes run: garbage-collector tuning and one spawned process per share of the partitions."""
