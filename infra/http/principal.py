"""Where the request's principal used to live: kept for code written against it until it moves to infra.security."""

from infra.security.principal import ADMIN, READER, ROLES, WRITER, Principal, principal_of, set_principal

__all__ = ["ADMIN", "READER", "ROLES", "WRITER", "Principal", "principal_of", "set_principal"]
