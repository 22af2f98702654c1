"""The `streamkeep` command line, one module per command group."""
