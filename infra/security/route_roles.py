"""The role each route needs: queries are for readers, commands for writers, operator actions for admins."""

import re

from infra.security.principal import ADMIN, READER, ROLES, WRITER

# The routes that act on the platform rather than on the business: an operator's, not a client's.
ADMIN_ROUTES = (
    ("POST", re.compile(r"^/v1/payments/gateway/script$")),
    ("POST", re.compile(r"^/v1/sagas/[^/]+/(retry|abort)$")),
    ("POST", re.compile(r"^/v1/projections/[^/]+/rebuild$")),
)
_READ_METHODS = ("GET", "HEAD", "OPTIONS")


def required_role(method: str, path: str) -> str | None:
    """The least role that may call it; None for the open routes outside /v1 (probes, metrics, the docs)."""
    if not path.startswith("/v1/"):
        return None
    if method in _READ_METHODS:
        return READER
    if any(method == m and pattern.match(path) for m, pattern in ADMIN_ROUTES):
        return ADMIN
    return WRITER


def allows(role: str, required: str) -> bool:
    """Roles nest: a writer may read, an admin may do everything."""
    return ROLES.index(role) >= ROLES.index(required)
