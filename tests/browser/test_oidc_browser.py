"""Single sign-on in the dashboard, in headless Chromium: the IC logs in through the OpenID provider (a real one on
loopback, tests/integration/oidc_provider.py), records GO, and the timeline attributes the act to them and to
how they authenticated."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.browser.conftest import UI_TIMEOUT
from tests.integration.oidc_provider import Client, Person, Provider

from golive.server import config as config_mod
from golive.server.testing import LiveServer

pytestmark = pytest.mark.browser

SECRET = "golive-client-secret-0123456789"
ADMIN = "tok-admin-browser-sso-0123456789"
WAIT = 20.0  # seconds a run may take to reach its decision
RUNBOOK = """\
golive: 1
name: sso
title: Payments cutover
roles:
  ic: {title: Incident Commander, may: [decide]}
phases:
  - id: go
    steps:
      - id: decide
        title: GO / NO-GO
        kind: decision
        role: ic
        deadline: 30m
        default: no-go
"""


@pytest.fixture
def sso(tmp_path: Path) -> Iterator[tuple[LiveServer, Provider]]:
    idp = Provider([Person("u-1001", "alice", ["warroom-ic"])], Client("golive", SECRET)).start()
    try:
        books = tmp_path / "runbooks"
        books.mkdir()
        (books / "sso.yaml").write_text(RUNBOOK, encoding="utf-8")
        cfg = config_mod.ServerConfig(
            token_hashes={config_mod.hash_token(ADMIN): config_mod.TokenGrant(user_id="admin", roles=("admin",))},
            runbook_dir=books,
            oidc=config_mod.OidcConfig(
                issuer=idp.url,
                client_id="golive",
                client_secret=SECRET,
                groups={"warroom-ic": config_mod.OidcGroup(roles=("ic",))},
            ),
        )
        with LiveServer(str(tmp_path / "golive.db"), cfg) as srv:
            idp.client.redirect_uris.append(srv.url + "/auth/callback")
            yield srv, idp
    finally:
        idp.stop()


def test_the_ic_logs_in_with_sso_records_go_and_the_timeline_names_them(
    sso: tuple[LiveServer, Provider], playwright_browser: Any
) -> None:
    srv, _ = sso
    admin = {"Authorization": f"Bearer {ADMIN}"}
    r = httpx.post(
        srv.url + "/api/v1/runs",
        json={"runbook": "sso.yaml", "mode": "rehearsal", "roles": {"ic": "alice"}},
        headers=admin,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    rid = r.json()["run_id"]
    deadline = time.monotonic() + WAIT
    while '"waiting_for":"decision"' not in httpx.get(f"{srv.url}/api/v1/runs/{rid}", headers=admin).text:
        assert time.monotonic() < deadline, "the run never waited for its decision"
        time.sleep(0.05)

    context = playwright_browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(UI_TIMEOUT)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{srv.url}/runs/{rid}")
        page.click("#sso-login")  # to the provider's sign-in page, and back with a session
        page.fill("#username", "alice")
        page.click("#signin")
        page.wait_for_selector("#panel-phases")
        assert page.text_content("#who") == "alice (ic)"
        page.fill('.decide-form input[name="reason"]', "canary green")
        page.click("[data-testid=go]")
        actor = page.locator("[data-testid=tl-actor]").first
        actor.wait_for()
        assert actor.text_content() == "by alice (oidc: u-1001)"
        assert not errors
    finally:
        context.close()
    data = httpx.get(f"{srv.url}/api/v1/runs/{rid}", headers=admin, timeout=10).json()
    step = next(s for ph in data["phases"] for s in ph["steps"] if s["id"] == "decide")
    assert step["decision"] == "go"
    assert (step["actor"], step["auth"], step["auth_subject"]) == ("alice", "oidc", "u-1001")
