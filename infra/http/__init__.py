"""HTTP pieces beside the routers in commands/ and projections/: problem answers, the body limit, schema routes."""
