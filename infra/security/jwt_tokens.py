"""JWTs checked with PyJWT against a shared secret, a public key or a JWKS (file or URL): signature, expiry,
issuer, audience, with some clock skew allowed; the principal's role comes from a configurable claim."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from infra.security.principal import ROLES, Principal

SECRET_ALGORITHMS = ("HS256", "HS384", "HS512")
KEY_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
JWKS_TIMEOUT_S = 5.0  # a JWKS endpoint that hangs must not hold requests for PyJWT's default 30 s


class InvalidToken(Exception):
    """The bearer token is not one we accept; the message says why, for the 401's detail."""


@dataclass(frozen=True)
class JwtSettings:
    secret: str | None = None
    public_key: str | None = None  # PEM text
    jwks: str | None = None  # an http(s) URL or a file path
    algorithms: tuple[str, ...] = ()  # empty: those of the key source given
    issuer: str | None = None
    audience: str | None = None
    role_claim: str = "role"  # a dotted path for nested claims (realm_access.roles); a list takes its highest role
    name_claim: str = "sub"
    leeway_s: float = 30.0

    @property
    def configured(self) -> bool:
        return bool(self.secret or self.public_key or self.jwks)


class JwtVerifier:
    """Turns a JWT into a principal, or says why it cannot."""

    def __init__(self, settings: JwtSettings) -> None:
        self._settings = settings
        self._jwks: Any = None
        if settings.jwks and settings.jwks.startswith(("http://", "https://")):
            # Fetched when first needed and cached for five minutes (PyJWKClient's lifespan), so key rotation at
            # the identity provider is seen without a restart.
            self._jwks = jwt.PyJWKClient(settings.jwks, cache_keys=True, timeout=JWKS_TIMEOUT_S)
        elif settings.jwks:
            self._jwks = _KeysFromFile(Path(settings.jwks))
        self._algorithms = list(settings.algorithms or (SECRET_ALGORITHMS if settings.secret else KEY_ALGORITHMS))

    @property
    def fetches_keys(self) -> bool:
        """Whether a check may wait on the network (a JWKS URL): the caller then runs it off the event loop."""
        return isinstance(self._jwks, jwt.PyJWKClient)

    def principal(self, token: str) -> Principal:
        claims = self._claims(token)
        name = _claim(claims, self._settings.name_claim)
        if not isinstance(name, str) or not name:
            raise InvalidToken(f"the token has no {self._settings.name_claim!r} claim naming its holder")
        return Principal(name, _role(_claim(claims, self._settings.role_claim), self._settings.role_claim))

    def _claims(self, token: str) -> dict[str, Any]:
        settings = self._settings
        try:
            key: Any = settings.secret or settings.public_key
            if self._jwks is not None:
                key = self._jwks.get_signing_key_from_jwt(token)
            return jwt.decode(  # type: ignore[no-any-return]
                token,
                key,
                algorithms=self._algorithms,
                issuer=settings.issuer,
                audience=settings.audience,
                leeway=settings.leeway_s,
                options={"require": ["exp"], "verify_aud": settings.audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("the token has expired") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("the token is not meant for this API (audience)") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("the token's issuer is not the one this API trusts") from None
        except jwt.MissingRequiredClaimError as error:
            raise InvalidToken(f"the token lacks the {error.claim!r} claim") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("the token's signature does not verify") from None
        except jwt.PyJWKClientConnectionError:
            raise InvalidToken("the keys to check the token could not be fetched") from None
        except (jwt.PyJWKClientError, jwt.InvalidTokenError) as error:
            raise InvalidToken(f"the token is not a valid JWT: {error}") from None


class _KeysFromFile:
    """A JWKS file, read once: the key whose id the token's header names (the only key when it names none)."""

    def __init__(self, path: Path) -> None:
        self._keys = jwt.PyJWKSet.from_json(path.read_text())

    def get_signing_key_from_jwt(self, token: str) -> jwt.PyJWK:
        kid = jwt.get_unverified_header(token).get("kid")
        if kid is None and len(self._keys.keys) == 1:
            return self._keys.keys[0]
        try:
            return self._keys[kid]
        except KeyError:
            raise InvalidToken(f"no key in the JWKS has the token's key id {kid!r}") from None


def _claim(claims: dict[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _role(value: Any, claim: str) -> str:
    """The role a claim grants: a role's name, or the highest of a list of them."""
    granted = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    known = [role for role in ROLES if role in granted]
    if not known:
        raise InvalidToken(f"the token's {claim!r} claim names no role of {', '.join(ROLES)}")
    return known[-1]  # ROLES runs from least to most trusted
