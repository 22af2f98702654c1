"""The read side on PostgreSQL: projection runner and writer, read models, status, dead letters, rebuilds."""
