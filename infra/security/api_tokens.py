"""Static API tokens: random strings issued once, kept in the settings only as SHA-256 digests with a name and role."""

import hashlib
import re
import secrets

from infra.security.principal import ROLES, Principal

PREFIX = "skt_"  # lets a secret scanner, or a reader of a log, tell a Streamkeep token at sight
SCHEME = "sha256"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class TokenSettingError(ValueError):
    """STREAMKEEP_API_TOKENS has an entry we cannot use."""


def issue() -> str:
    """A new token: 256 random bits."""
    return PREFIX + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    # A fast hash is enough: the tokens are 256 random bits, so there is no dictionary to try, and a slow hash
    # (bcrypt, argon2) would cost milliseconds on every request.
    return hashlib.sha256(token.encode()).hexdigest()


def entry(name: str, role: str, token: str) -> str:
    """The settings entry that admits `token`: `name:role:sha256:<digest>`."""
    check_name(name)
    if role not in ROLES:
        raise TokenSettingError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return f"{name}:{role}:{SCHEME}:{digest(token)}"


def check_name(name: str) -> None:
    if not _NAME.match(name):
        raise TokenSettingError(
            f"a token's name is 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit, "
            f"not {name!r}"
        )


def parse(text: str) -> dict[str, Principal]:
    """STREAMKEEP_API_TOKENS (entries separated by commas or whitespace) as digest -> principal."""
    admitted: dict[str, Principal] = {}
    for item in re.split(r"[,\s]+", text.strip()):
        if not item:
            continue
        parts = item.split(":")
        if len(parts) != 4 or parts[2] != SCHEME or not re.fullmatch(r"[0-9a-f]{64}", parts[3]):
            raise TokenSettingError(
                f"STREAMKEEP_API_TOKENS entries are name:role:sha256:<64 hex digits> (`streamkeep tokens issue` "
                f"prints one), not {_redacted(item)!r}"
            )
        name, role, _, hexdigest = parts
        check_name(name)
        if role not in ROLES:
            known = ", ".join(ROLES)
            raise TokenSettingError(f"STREAMKEEP_API_TOKENS: {name}'s role must be one of {known}, not {role!r}")
        if hexdigest in admitted:
            raise TokenSettingError(f"STREAMKEEP_API_TOKENS: {name} and {admitted[hexdigest].name} share one token")
        admitted[hexdigest] = Principal(name, role)
    return admitted


def _redacted(item: str) -> str:
    # Someone may paste the token itself where its digest belongs: never echo it whole.
    return item if len(item) <= 12 else item[:8] + "…"
