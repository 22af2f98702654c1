"""The authentication settings: STREAMKEEP_API_TOKENS, the STREAMKEEP_JWT_* ones, and STREAMKEEP_NO_AUTH."""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from infra.security import api_tokens
from infra.security.jwt_tokens import JwtSettings
from infra.security.principal import Principal

NO_AUTH = "STREAMKEEP_NO_AUTH"


class AuthSettingError(ValueError):
    """An authentication setting has a value we cannot use."""


@dataclass(frozen=True)
class AuthSettings:
    api_tokens: dict[str, Principal] = field(default_factory=dict)  # digest -> holder
    jwt: JwtSettings = JwtSettings()
    no_auth: bool = False  # said in as many words: STREAMKEEP_NO_AUTH=true or `--no-auth`

    @property
    def configured(self) -> bool:
        return bool(self.api_tokens) or self.jwt.configured


def load_auth_settings(env: Mapping[str, str]) -> AuthSettings:
    try:
        tokens = api_tokens.parse(env.get("STREAMKEEP_API_TOKENS", ""))
    except api_tokens.TokenSettingError as error:
        raise AuthSettingError(str(error)) from None
    return AuthSettings(api_tokens=tokens, jwt=_jwt_settings(env), no_auth=_yes(env, NO_AUTH))


def _jwt_settings(env: Mapping[str, str]) -> JwtSettings:
    sources = [name for name in ("SECRET", "PUBLIC_KEY", "JWKS") if env.get(f"STREAMKEEP_JWT_{name}", "").strip()]
    if len(sources) > 1:
        raise AuthSettingError(f"set one of STREAMKEEP_JWT_SECRET, _PUBLIC_KEY or _JWKS, not {', '.join(sources)}")
    algorithms = tuple(a.strip() for a in env.get("STREAMKEEP_JWT_ALGORITHMS", "").split(",") if a.strip())
    if "none" in {a.lower() for a in algorithms}:
        raise AuthSettingError("STREAMKEEP_JWT_ALGORITHMS may not include 'none': unsigned tokens prove nothing")
    leeway = env.get("STREAMKEEP_JWT_LEEWAY_S", "30").strip()
    try:
        leeway_s = float(leeway)
    except ValueError:
        leeway_s = -1.0
    if leeway_s < 0:
        raise AuthSettingError(f"STREAMKEEP_JWT_LEEWAY_S must be a number of seconds ≥ 0, not {leeway!r}")
    return JwtSettings(
        secret=env.get("STREAMKEEP_JWT_SECRET", "").strip() or None,
        public_key=_public_key(env.get("STREAMKEEP_JWT_PUBLIC_KEY", "").strip()),
        jwks=_jwks(env.get("STREAMKEEP_JWT_JWKS", "").strip()),
        algorithms=algorithms,
        issuer=env.get("STREAMKEEP_JWT_ISSUER", "").strip() or None,
        audience=env.get("STREAMKEEP_JWT_AUDIENCE", "").strip() or None,
        role_claim=env.get("STREAMKEEP_JWT_ROLE_CLAIM", "").strip() or "role",
        name_claim=env.get("STREAMKEEP_JWT_NAME_CLAIM", "").strip() or "sub",
        leeway_s=leeway_s,
    )


def _public_key(text: str) -> str | None:
    """PEM text, or the path of a PEM file."""
    if not text or text.startswith("-----BEGIN"):
        return text or None
    path = Path(text).expanduser()
    if not path.is_file():
        raise AuthSettingError(f"STREAMKEEP_JWT_PUBLIC_KEY is neither PEM text nor a readable file: {text!r}")
    return path.read_text()


def _jwks(text: str) -> str | None:
    """An http(s) URL (fetched when first needed), or the path of a JWKS file (read at start-up)."""
    if not text or text.startswith(("http://", "https://")):
        return text or None
    path = Path(text).expanduser()
    try:
        json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise AuthSettingError(
            f"STREAMKEEP_JWT_JWKS is neither an http(s) URL nor a readable JSON file: {error}"
        ) from None
    return str(path)


def _yes(env: Mapping[str, str], name: str) -> bool:
    text = env.get(name, "false").strip().lower()
    if text not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
        raise AuthSettingError(f"{name} must be true or false, not {text!r}")
    return text in ("true", "1", "yes", "on")
