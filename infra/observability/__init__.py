"""How our processes are watched: structured logs, Prometheus metrics, and the dependency checks behind /readyz."""
