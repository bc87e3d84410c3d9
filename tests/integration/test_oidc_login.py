"""OpenID Connect login at `golive serve` against a real provider on loopback (Authlib's server components):
the browser's authorization code flow with PKCE and a session cookie, groups mapped to golive users and roles,
a person in no mapped group refused, and the CLI's device flow."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from tests.integration.oidc_provider import Client, Person, Provider

from golive.cli import main
from golive.server import config as config_mod
from golive.server.testing import LiveServer

SECRET = "golive-client-secret-0123456789"


@pytest.fixture(scope="module")
def idp() -> Iterator[Provider]:
    """One provider for the module (its RSA key takes a while to make); each test registers its own server."""
    people = [
        Person("u-1001", "alice", ["warroom-ic", "staff"], "alice@example.com"),
        Person("u-1002", "bob", ["payments-oncall"], "bob@example.com"),
        Person("u-1003", "mallory", ["staff"], "mallory@example.com"),
    ]
    provider = Provider(people, Client("golive", SECRET)).start()
    try:
        yield provider
    finally:
        provider.stop()


def oidc_config(idp: Provider, **extra: object) -> config_mod.ServerConfig:
    return config_mod.ServerConfig(
        oidc=config_mod.OidcConfig(
            issuer=idp.url,
            client_id="golive",
            client_secret=SECRET,
            groups={
                "warroom-ic": config_mod.OidcGroup(roles=("ic",)),
                "payments-oncall": config_mod.OidcGroup(roles=("ops", "viewer"), user="payments.oncall"),
            },
        ),
        token_cache_ttl=0,
        **extra,  # type: ignore[arg-type]
    )


def browser_login(http: httpx.Client, srv: LiveServer, idp: Provider, username: str) -> httpx.Response:
    """Follow the login as a browser does: golive -> provider's form -> golive's callback (cookies kept)."""
    start = http.get(srv.url + "/auth/login", params={"next": "/runs/x"})
    assert start.status_code == 302, start.text
    at_idp = start.headers["location"]
    q = parse_qs(urlparse(at_idp).query)
    assert q["code_challenge_method"] == ["S256"]
    assert q["response_type"] == ["code"]
    assert "nonce" in q
    form = http.get(at_idp)
    assert form.status_code == 200, form.text
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form.text))
    fields = {k: v.replace("&amp;", "&") for k, v in fields.items()}
    back = http.post(idp.url + "/authorize", data={**fields, "username": username})
    assert back.status_code == 302, back.text
    assert back.headers["location"].startswith(srv.url + "/auth/callback?")
    return http.get(back.headers["location"])


def test_browser_login_sets_a_session_and_maps_groups_to_roles(
    idp: Provider, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with LiveServer(str(tmp_path / "g.db"), oidc_config(idp)) as srv:
        idp.client.redirect_uris.append(srv.url + "/auth/callback")
        with httpx.Client(timeout=10) as http:
            done = browser_login(http, srv, idp, "alice")
            assert done.status_code == 302, done.text
            assert done.headers["location"] == "/runs/x"
            cookie = done.headers["set-cookie"]
            assert "golive_session=" in cookie
            assert "HttpOnly" in cookie
            assert "Path=/auth" in cookie
            assert "samesite=strict" in cookie.lower()
            # The page trades the cookie for its bearer token; the API itself never reads the cookie.
            sess = http.get(srv.url + "/auth/session")
            assert sess.status_code == 200, sess.text
            body = sess.json()
            assert body["user"] == "alice"
            assert body["roles"] == ["ic"]
            assert body["subject"] == "u-1001"
            assert http.get(srv.url + "/api/v1/me").status_code == 401
            me = http.get(srv.url + "/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
            assert me.json() == {"user": "alice", "roles": ["ic"], "can_act": True, "can_start": False}
            # The login is a token in the store, listed with the subject and its expiry.
            assert main(["token", "list", "--db", str(tmp_path / "g.db")]) == 0
            listed = capsys.readouterr().out
            assert "(login: oidc u-1001)" in listed
            assert "active until" in listed
            # Signing out revokes the session's token.
            assert http.post(srv.url + "/auth/logout").status_code == 200
            again = http.get(srv.url + "/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
            assert again.status_code == 401
    assert ("POST", "/token") in idp.requests


def test_a_group_can_name_the_golive_user_and_a_person_in_no_mapped_group_is_refused(
    idp: Provider, tmp_path: Path
) -> None:
    with LiveServer(str(tmp_path / "g.db"), oidc_config(idp)) as srv:
        idp.client.redirect_uris.append(srv.url + "/auth/callback")
        with httpx.Client(timeout=10) as http:
            assert browser_login(http, srv, idp, "bob").status_code == 302
            bob = http.get(srv.url + "/auth/session").json()
            assert bob["user"] == "payments.oncall"
            assert bob["roles"] == ["ops", "viewer"]
            assert bob["subject"] == "u-1002"
        with httpx.Client(timeout=10) as http:
            refused = browser_login(http, srv, idp, "mallory")
            assert refused.status_code == 403
            assert "none of the groups" in refused.json()["message"]
            assert "golive_session" not in refused.headers.get("set-cookie", "")


def test_a_forged_callback_is_refused(idp: Provider, tmp_path: Path) -> None:
    """A callback without the login's signed state cookie, or with another state, never logs anyone in."""
    with LiveServer(str(tmp_path / "g.db"), oidc_config(idp)) as srv, httpx.Client(timeout=10) as http:
        r = http.get(srv.url + "/auth/callback", params={"code": "x", "state": "y"})
        assert r.status_code == 400
        http.get(srv.url + "/auth/login")
        r = http.get(srv.url + "/auth/callback", params={"code": "x", "state": "not-the-state"})
        assert r.status_code == 400
        assert "state" in r.json()["message"]


def test_device_flow_gives_the_cli_a_token_that_records_oidc_on_acts(idp: Provider, tmp_path: Path) -> None:
    with LiveServer(str(tmp_path / "g.db"), oidc_config(idp)) as srv, httpx.Client(timeout=10) as http:
        start = http.post(srv.url + "/auth/device")
        assert start.status_code == 200, start.text
        dev = start.json()
        assert dev["verification_uri"] == idp.url + "/device"
        pending = http.post(srv.url + "/auth/device/token", json={"device_code": dev["device_code"]})
        assert pending.status_code == 400
        assert pending.json()["error"] == "authorization_pending"
        approve = http.post(idp.url + "/device", data={"user_code": dev["user_code"], "username": "alice"})
        assert approve.status_code == 200
        done = http.post(srv.url + "/auth/device/token", json={"device_code": dev["device_code"]})
        assert done.status_code == 200, done.text
        tok = done.json()
        assert tok["user"] == "alice"
        assert tok["subject"] == "u-1001"
        assert tok["expires_at"]
        me = http.get(srv.url + "/api/v1/me", headers={"Authorization": f"Bearer {tok['token']}"})
        assert me.json()["user"] == "alice"


def test_guessing_session_cookies_is_rate_limited_like_tokens(idp: Provider, tmp_path: Path) -> None:
    cfg = oidc_config(idp, auth_failures=config_mod.AuthFailureLimit(max=2, window=600))
    with LiveServer(str(tmp_path / "g.db"), cfg) as srv, httpx.Client(timeout=10) as http:
        for guess in ("glv_guess-one-0123456789", "glv_guess-two-0123456789"):
            r = http.get(srv.url + "/auth/session", headers={"Cookie": f"golive_session={guess}"})
            assert r.status_code == 401
        r = http.get(srv.url + "/auth/session", headers={"Cookie": "golive_session=glv_guess-three-01234567"})
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) > 0
