"""The error every command raises for a problem to report to the user in one line."""


class CliError(Exception):
    """A problem to report to the user in one line."""
