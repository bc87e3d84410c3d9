"""The server believes an ID token only when the provider signed it for this client, recently, for this login:
a forged signature, another audience or issuer, an expired token or another login's nonce is refused. The
provider is the real one on loopback (its discovery document and JWKS)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from tests.integration.oidc_provider import Client, Person, Provider

from golive.server import config as config_mod
from golive.server import oidc

SECRET = "golive-client-secret-0123456789"


@pytest.fixture(scope="module")
def idp() -> Iterator[Provider]:
    provider = Provider([Person("u-1", "alice", ["ic"])], Client("golive", SECRET)).start()
    try:
        yield provider
    finally:
        provider.stop()


def claims_of(idp: Provider, token: str, nonce: str | None = "n-1") -> dict[str, Any]:
    cfg = config_mod.OidcConfig(issuer=idp.url, client_id="golive", client_secret=SECRET)
    return asyncio.run(oidc.Provider(cfg).id_token_claims({"id_token": token}, nonce))


def signed(idp: Provider, key: RSAKey | None = None, **over: Any) -> str:
    now = int(time.time())
    claims = {"iss": idp.url, "sub": "u-1", "aud": "golive", "iat": now, "exp": now + 300, "nonce": "n-1"}
    claims.update(over)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key or idp.key)


def test_a_token_the_provider_signed_for_this_login_is_believed(idp: Provider) -> None:
    assert claims_of(idp, signed(idp))["sub"] == "u-1"


@pytest.mark.parametrize(
    ("why", "over", "says"),
    [
        ("another audience", {"aud": "someone-else"}, "not valid for this server"),
        ("another issuer", {"iss": "http://127.0.0.1:9/evil"}, "not valid for this server"),
        ("expired", {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "not valid for this server"),
        ("another login's nonce", {"nonce": "n-2"}, "not valid for this server"),
        ("no nonce", {"nonce": None}, "not valid for this server"),
    ],
)
def test_a_token_not_meant_for_this_login_is_refused(idp: Provider, why: str, over: dict[str, Any], says: str) -> None:
    with pytest.raises(oidc.LoginRefused, match=says):
        claims_of(idp, signed(idp, **over))


def test_a_forged_signature_is_refused(idp: Provider) -> None:
    forger = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    with pytest.raises(oidc.LoginRefused, match="signature does not verify"):
        claims_of(idp, signed(idp, key=forger))


def test_an_unsigned_token_is_refused(idp: Provider) -> None:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    now = int(time.time())
    body = {"iss": idp.url, "sub": "u-1", "aud": "golive", "iat": now, "exp": now + 300, "nonce": "n-1"}
    with pytest.raises(oidc.LoginRefused):
        claims_of(idp, part({"alg": "none"}) + "." + part(body) + ".")


def test_groups_map_to_roles_and_users_rename() -> None:
    cfg = config_mod.OidcConfig(
        issuer="https://login.example.com",
        client_id="golive",
        groups={
            "ic": config_mod.OidcGroup(roles=("ic",)),
            "rota": config_mod.OidcGroup(roles=("ops",), user="payments.oncall"),
            "read": config_mod.OidcGroup(roles=("viewer",)),
        },
        users={"a.smith": "alice"},
    )
    assert oidc.map_identity(cfg, {"sub": "1", "preferred_username": "a.smith", "groups": ["ic", "x"]}) == (
        "alice",
        ("ic",),
        "1",
    )
    assert oidc.map_identity(cfg, {"sub": "2", "preferred_username": "bob", "groups": ["read", "rota"]}) == (
        "payments.oncall",
        ("ops", "viewer"),
        "2",
    )
    with pytest.raises(oidc.LoginRefused, match="none of the groups"):
        oidc.map_identity(cfg, {"sub": "3", "preferred_username": "eve", "groups": ["x"]})
    with pytest.raises(oidc.LoginRefused, match="preferred_username"):
        oidc.map_identity(cfg, {"sub": "4", "groups": ["ic"]})


def test_the_oidc_config_refuses_a_plain_http_issuer_off_loopback(tmp_path: Any) -> None:
    from golive import exceptions

    f = tmp_path / "serve.yaml"
    f.write_text("oidc:\n  issuer: http://login.example.com\n  client_id: golive\n", encoding="utf-8")
    with pytest.raises(exceptions.UsageError, match=r"oidc.issuer: .*https://"):
        config_mod.load_config(f, environ={})
    f.write_text("oidc:\n  issuer: https://login.example.com\n  client_id: golive\n", encoding="utf-8")
    cfg = config_mod.load_config(f, environ={"GOLIVE_OIDC_CLIENT_SECRET": "s3cret-from-env"})
    assert cfg.oidc is not None
    assert cfg.oidc.client_secret == "s3cret-from-env"
    assert "s3cret" not in repr(cfg)


@pytest.mark.parametrize(
    ("given", "goes"),
    [
        ("/runs/20261205-0915", "/runs/20261205-0915"),
        ("/runs/x?tab=log", "/runs/x?tab=log"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/\t/evil.example", "/"),
        ("/\n/evil.example", "/"),
        ("https://evil.example", "/"),
        ("", "/"),
    ],
)
def test_the_login_returns_only_to_a_path_on_this_server(given: str, goes: str) -> None:
    assert oidc.safe_next(given) == goes
