"""`python -m infra` is the `streamkeep` command."""

from infra.cli.main import main

main()
