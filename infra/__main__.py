"""`python -m infra` is the `streamkeep` command."""

from infra.cli import main

main()
