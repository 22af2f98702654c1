"""How long the read side waits on PostgreSQL: to connect, and for a connection from the pool."""

# libpq waits for ever by default. A server that is up accepts in milliseconds; 10 s rides out a busy or
# restarting one without hanging a worker, the API or a rebuild on an address that will never answer.
CONNECT_TIMEOUT_S = 10
# psycopg_pool's default is 30 s. A query or a batch that waits longer for a free connection ends with
# PoolTimeout (an OperationalError): the API answers 503, a projection batch is tried again.
POOL_WAIT_S = 10.0
