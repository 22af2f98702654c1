"""One place that turns a bearer token into a principal, whichever source admits it."""

import asyncio

from infra.security.api_tokens import digest
from infra.security.auth_settings import AuthSettings
from infra.security.jwt_tokens import InvalidToken, JwtVerifier
from infra.security.principal import Principal


class Authenticator:
    def __init__(self, api_tokens: dict[str, Principal], jwt: JwtVerifier | None) -> None:
        self._api_tokens = api_tokens
        self._jwt = jwt

    async def principal(self, token: str) -> Principal:
        """The token's holder; raises InvalidToken saying why it is refused."""
        known = self._api_tokens.get(digest(token))
        if known is not None:
            return known
        if self._jwt is None or token.count(".") != 2:
            raise InvalidToken("the token is not one this API issued")
        if self._jwt.fetches_keys:
            return await asyncio.to_thread(self._jwt.principal, token)
        return self._jwt.principal(token)


def authenticator_for(auth: AuthSettings) -> Authenticator | None:
    """The API's authenticator; None (every caller anonymous) when no token source is configured."""
    if auth.no_auth or not auth.configured:
        return None
    return Authenticator(auth.api_tokens, JwtVerifier(auth.jwt) if auth.jwt.configured else None)
