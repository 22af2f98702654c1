"""JWTs: a shared secret, a public key or a JWKS file admit them; expiry, issuer, audience and signature are
checked with some clock skew allowed; the role comes from the configured claim."""

import json
import time
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from infra.security.jwt_tokens import InvalidToken, JwtSettings, JwtVerifier
from infra.security.principal import Principal

SECRET = "a-shared-secret-of-at-least-32-bytes!!"
CHECKS = {"issuer": "https://id.example", "audience": "streamkeep"}


def _claims(**changes: object) -> dict:
    now = int(time.time())
    claims = {"sub": "ci", "role": "writer", "iss": CHECKS["issuer"], "aud": CHECKS["audience"], "exp": now + 60}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _hs256(**changes: object) -> str:
    return jwt.encode(_claims(**changes), SECRET, algorithm="HS256")


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def test_a_token_signed_with_the_shared_secret_names_its_holder_and_role() -> None:
    verifier = JwtVerifier(JwtSettings(secret=SECRET, **CHECKS))

    assert verifier.principal(_hs256()) == Principal("ci", "writer")


# Made when the test runs, not when it is collected: the suite may reach it after a minute-long token expired.
@pytest.mark.parametrize(
    "make, says",
    [
        (lambda: _hs256(exp=int(time.time()) - 120), "expired"),
        (lambda: jwt.encode(_claims(), "another-secret-of-at-least-32-bytes!!", algorithm="HS256"), "signature"),
        (lambda: _hs256(aud="someone-else"), "audience"),
        (lambda: _hs256(iss="https://evil.example"), "issuer"),
        (lambda: _hs256(exp=None), "'exp'"),
        (lambda: "not.a.jwt", "not a valid JWT"),
        (lambda: jwt.encode(_claims(), None, algorithm="none"), "not a valid JWT"),
        (lambda: _hs256(role="root"), "names no role"),
        (lambda: _hs256(sub=None), "'sub'"),
    ],
    ids=[
        "expired",
        "wrongly-signed",
        "wrong-audience",
        "wrong-issuer",
        "no-expiry",
        "malformed",
        "unsigned",
        "unknown-role",
        "no-subject",
    ],
)
def test_a_token_that_fails_a_check_is_refused_saying_which(make: Callable[[], str], says: str) -> None:
    verifier = JwtVerifier(JwtSettings(secret=SECRET, **CHECKS))

    with pytest.raises(InvalidToken, match=says):
        verifier.principal(make())


def test_a_token_expired_within_the_leeway_still_passes() -> None:
    verifier = JwtVerifier(JwtSettings(secret=SECRET, leeway_s=30, **CHECKS))

    assert verifier.principal(_hs256(exp=int(time.time()) - 10)).name == "ci"


def test_the_role_may_come_from_a_nested_list_claim_and_the_highest_role_listed_wins() -> None:
    verifier = JwtVerifier(JwtSettings(secret=SECRET, role_claim="realm_access.roles", name_claim="email", **CHECKS))
    token = _hs256(role=None, email="ops@example.com", realm_access={"roles": ["offline", "reader", "admin"]})

    assert verifier.principal(token) == Principal("ops@example.com", "admin")


def test_a_token_signed_with_the_private_key_is_admitted_by_the_public_key(rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = JwtVerifier(JwtSettings(public_key=_public_pem(rsa_key), **CHECKS))
    token = jwt.encode(_claims(role="admin"), rsa_key, algorithm="RS256")

    assert verifier.principal(token) == Principal("ci", "admin")


def test_a_public_key_verifier_refuses_an_hs256_token_made_with_the_public_key_as_secret(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    # The classic algorithm confusion: HS256 "signed" with the public key, which everyone has.
    pem = _public_pem(rsa_key)
    verifier = JwtVerifier(JwtSettings(public_key=pem, **CHECKS))
    forged = jwt.api_jws.PyJWS().encode(json.dumps(_claims(role="admin")).encode(), b"x" * 32, algorithm="HS256")

    with pytest.raises(InvalidToken):
        verifier.principal(forged)


def test_a_jwks_file_admits_a_token_by_its_key_id(rsa_key: rsa.RSAPrivateKey, tmp_path: Path) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keys = []
    for kid, key in (("old", other), ("current", rsa_key)):
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": keys}))
    verifier = JwtVerifier(JwtSettings(jwks=str(jwks), **CHECKS))

    token = jwt.encode(_claims(), rsa_key, algorithm="RS256", headers={"kid": "current"})
    wrong_kid = jwt.encode(_claims(), rsa_key, algorithm="RS256", headers={"kid": "old"})

    assert verifier.principal(token) == Principal("ci", "writer")
    with pytest.raises(InvalidToken, match="signature"):
        verifier.principal(wrong_kid)
