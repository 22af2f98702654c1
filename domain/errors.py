"""Domain errors: a business rule that a command would break."""


class RuleBroken(Exception):
    """A command was refused because it would break a business rule."""

    def __init__(self, rule: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.field = field
