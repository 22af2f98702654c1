"""`streamkeep tokens issue`: a new API token, and the settings line that admits it."""

import os
from typing import Annotated

import typer

from infra.cli.errors import CliError
from infra.security import api_tokens
from infra.security.principal import ROLES

tokens_app = typer.Typer(no_args_is_help=True)


@tokens_app.command()
def issue(
    role: Annotated[
        str, typer.Option(help=f"What the token may do: {', '.join(ROLES)} (each includes the one before).")
    ],
    name: Annotated[str, typer.Option(help="Who holds it: the events' metadata records it as who asked.")],
) -> None:
    """Print a new token (shown once: only its digest goes in the settings) and the STREAMKEEP_API_TOKENS line."""
    token = api_tokens.issue()
    try:
        entry = api_tokens.entry(name, role, token)
        existing = os.environ.get("STREAMKEEP_API_TOKENS", "").strip()
        known = api_tokens.parse(existing)
    except api_tokens.TokenSettingError as error:
        raise CliError(str(error)) from None
    if any(holder.name == name for holder in known.values()):
        raise CliError(f"STREAMKEEP_API_TOKENS already admits a token named {name}; pick another name")
    typer.echo(token)
    # With tokens set already, the line keeps them: it replaces the setting whole.
    typer.echo(f"STREAMKEEP_API_TOKENS={existing + ',' if existing else ''}{entry}")
