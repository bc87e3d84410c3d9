"""Seed 001 end to end: the order-status production pre-flight as `golive preflight`, in a subprocess.

What the seed's script checked, each against a real local stand-in: the test plan's env flags
(RICHPANEL_OUTBOUND_ENABLED=false ...), three Secrets Manager secrets (moto), a Richpanel GET, Shopify REST
and GraphQL (loopback HTTP services that require the keys from Secrets Manager), and the Shopify token refresh
"last success" within 8h from its log. The Markdown is the seed's proof snippet:

    overall_status PASS
    shopify_token_refresh_last_success PASS last_success_age_hours=0.07
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from .conftest import LoopbackHTTPServer, MotoService, Reply, Request

GOLIVE = str(Path(sys.executable).with_name("golive"))
CLI_TIMEOUT = 120.0  # seconds
SHOP = "scentimen-t.myshopify.com"
SECRETS = {
    "rp-mw/prod/richpanel/api_key": "rp-key-7f3e9c2a41d8b650",
    "rp-mw/prod/shopify/admin_api_token": "shpat-0d4c9b8a7e6f5a4b3c2d1e0f",
    "rp-mw/prod/openai/api_key": "oa-key-5b4a3c2d1e0f9a8b",
}
# seed 001 "6) Test plan": the environment the pre-flight runs in.
TEST_PLAN_ENV = {
    "AWS_REGION": "us-east-2",
    "ENVIRONMENT": "prod",
    "RICHPANEL_ENV": "prod",
    "MW_ENV": "prod",
    "MW_ALLOW_NETWORK_READS": "true",
    "RICHPANEL_READ_ONLY": "true",
    "RICHPANEL_WRITE_DISABLED": "true",
    "RICHPANEL_OUTBOUND_ENABLED": "false",
    "SHOPIFY_OUTBOUND_ENABLED": "true",
    "SHOPIFY_WRITE_DISABLED": "true",
    "SHOPIFY_SHOP_DOMAIN": SHOP,
}
REFRESH_AGE = timedelta(hours=0.07)  # the seed's proof: last_success_age_hours=0.07

RUNBOOK = """\
golive: 1
name: order-status-preflight
title: Order Status production preflight (seed 001)
environment: prod
vars:
  aws_region: {default: us-east-2}
  sm_endpoint: {default: "%(sm)s"}
  richpanel_url: {default: "%(richpanel)s"}
  shopify_base: {default: "%(shopify)s"}
  shop_domain: {default: %(shop)s}
  refresh_log: {default: "%(log)s"}
secrets:
  richpanel_api_key:
    provider: aws-secretsmanager
    id: rp-mw/prod/richpanel/api_key
    options: {region: "${{ vars.aws_region }}", endpoint_url: "${{ vars.sm_endpoint }}"}
  shopify_admin_api_token:
    provider: aws-secretsmanager
    id: rp-mw/prod/shopify/admin_api_token
    options: {region: "${{ vars.aws_region }}", endpoint_url: "${{ vars.sm_endpoint }}"}
phases:
  - id: preflight
    title: Preflight (order status, prod)
    steps:
      # Env flags of the test plan; a missing or wrong one fails closed.
      - {id: env_environment, kind: check, type: env, with: {name: ENVIRONMENT, state: equals, value: prod}}
      - {id: env_mw_env, kind: check, type: env, with: {name: MW_ENV, state: equals, value: prod}}
      - {id: env_network_reads, kind: check, type: env, with: {name: MW_ALLOW_NETWORK_READS, state: equals, value: "true"}}
      - {id: env_richpanel_read_only, kind: check, type: env, with: {name: RICHPANEL_READ_ONLY, state: equals, value: "true"}}
      - {id: env_richpanel_write_disabled, kind: check, type: env, with: {name: RICHPANEL_WRITE_DISABLED, state: equals, value: "true"}}
      - {id: env_richpanel_outbound_disabled, kind: check, type: env, with: {name: RICHPANEL_OUTBOUND_ENABLED, state: equals, value: "false"}}
      - {id: env_shopify_outbound, kind: check, type: env, with: {name: SHOPIFY_OUTBOUND_ENABLED, state: equals, value: "true"}}
      - {id: env_shopify_write_disabled, kind: check, type: env, with: {name: SHOPIFY_WRITE_DISABLED, state: equals, value: "true"}}
      - {id: env_shop_domain, kind: check, type: env, with: {name: SHOPIFY_SHOP_DOMAIN, state: equals, value: "${{ vars.shop_domain }}"}}
      # Secrets Manager.
      - id: sm_richpanel_api_key
        kind: check
        type: secret
        with: {provider: aws-secretsmanager, id: rp-mw/prod/richpanel/api_key, options: {region: "${{ vars.aws_region }}", endpoint_url: "${{ vars.sm_endpoint }}"}}
      - id: sm_shopify_admin_api_token
        kind: check
        type: secret
        with: {provider: aws-secretsmanager, id: rp-mw/prod/shopify/admin_api_token, options: {region: "${{ vars.aws_region }}", endpoint_url: "${{ vars.sm_endpoint }}"}}
      - id: sm_openai_api_key
        kind: check
        type: secret
        with: {provider: aws-secretsmanager, id: rp-mw/prod/openai/api_key, options: {region: "${{ vars.aws_region }}", endpoint_url: "${{ vars.sm_endpoint }}"}}
      # Vendor reads.
      - id: richpanel_get
        kind: check
        type: http
        with:
          url: "${{ vars.richpanel_url }}"
          headers: {x-richpanel-key: "${{ secrets.richpanel_api_key }}"}
          expect: {status: 200}
      - id: shopify_rest
        kind: check
        type: http
        with:
          url: "${{ vars.shopify_base }}/admin/api/2024-01/shop.json"
          headers: {X-Shopify-Access-Token: "${{ secrets.shopify_admin_api_token }}"}
          expect: {status: 200, json: {"$.shop.myshopify_domain": "${{ vars.shop_domain }}"}}
      - id: shopify_graphql
        kind: check
        type: graphql
        with:
          url: "${{ vars.shopify_base }}/admin/api/2024-01/graphql.json"
          query: "{ shop { myshopifyDomain } }"
          headers: {X-Shopify-Access-Token: "${{ secrets.shopify_admin_api_token }}"}
          expect: {json: {"$.data.shop.myshopifyDomain": "${{ vars.shop_domain }}"}}
      # Token refresh succeeded within 8h (from the refresh function's log).
      - id: shopify_token_refresh_last_success
        kind: check
        type: log
        with: {path: "${{ vars.refresh_log }}", pattern: "token refresh succeeded", within: 8h}
"""


@pytest.fixture
def vendors(http_server: LoopbackHTTPServer) -> LoopbackHTTPServer:
    """Richpanel and Shopify stand-ins that answer only with the keys kept in Secrets Manager."""
    rp_key = SECRETS["rp-mw/prod/richpanel/api_key"]
    shop_token = SECRETS["rp-mw/prod/shopify/admin_api_token"]

    def richpanel(req: Request) -> Reply:
        if req.headers.get("x-richpanel-key") != rp_key:
            return Reply.of_json({"error": "unauthorized"}, status=401)
        return Reply.of_json({"users": [{"id": 1}]})

    def shop(req: Request) -> Reply:
        if req.headers.get("x-shopify-access-token") != shop_token:
            return Reply.of_json({"errors": "[API] Invalid API key or access token"}, status=401)
        return Reply.of_json({"shop": {"myshopify_domain": SHOP, "name": "Scentiment"}})

    def graphql(req: Request) -> Reply:
        if req.headers.get("x-shopify-access-token") != shop_token:
            return Reply.of_json({"errors": [{"message": "Invalid API key or access token"}]}, status=401)
        assert "myshopifyDomain" in req.json()["query"]
        return Reply.of_json({"data": {"shop": {"myshopifyDomain": SHOP}}})

    http_server.handle("/v1/users", richpanel, method="GET")
    http_server.handle("/admin/api/2024-01/shop.json", shop, method="GET")
    http_server.handle("/admin/api/2024-01/graphql.json", graphql, method="POST")
    return http_server


@pytest.fixture
def secrets_manager(aws_env: MotoService) -> MotoService:
    import boto3

    client = boto3.client("secretsmanager", endpoint_url=aws_env.endpoint_url, region_name="us-east-2")
    for name, value in SECRETS.items():
        client.create_secret(Name=name, SecretString=value)
    return aws_env


def write_runbook(tmp_path: Path, vendors: LoopbackHTTPServer, sm: MotoService) -> Path:
    log = tmp_path / "shopify-token-refresh.log"
    ok_at = datetime.now(UTC) - REFRESH_AGE
    log.write_text(
        f"{(ok_at - timedelta(hours=9)).isoformat()} INFO token refresh succeeded\n"
        f"{(ok_at - timedelta(minutes=1)).isoformat()} INFO refreshing token\n"
        f"{ok_at.isoformat()} INFO token refresh succeeded expires_in=86399\n"
        f"{(ok_at + timedelta(minutes=1)).isoformat()} INFO idle\n"
    )
    path = tmp_path / "order-status-preflight.yaml"
    path.write_text(
        RUNBOOK
        % {
            "sm": sm.endpoint_url,
            "richpanel": vendors.url("/v1/users"),
            "shopify": vendors.url("").rstrip("/"),
            "shop": SHOP,
            "log": log,
        }
    )
    return path


def preflight(path: Path, out: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    args = [GOLIVE, "preflight", str(path), "--out-md", str(out / "preflight.md"), "--out-json", str(out / "p.json")]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT, check=False)


def test_seed_001_preflight_passes_with_the_proof_line(
    tmp_path: Path, vendors: LoopbackHTTPServer, secrets_manager: MotoService
) -> None:
    """With the test plan's environment, every check passes and the Markdown carries the seed's proof lines."""
    path = write_runbook(tmp_path, vendors, secrets_manager)
    proc = preflight(path, tmp_path, {**os.environ, **TEST_PLAN_ENV})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    md = (tmp_path / "preflight.md").read_text()
    block = md.split("```text\n", 1)[1].split("```", 1)[0].splitlines()
    assert block[0] == "overall_status PASS"
    assert re.fullmatch(r"shopify_token_refresh_last_success PASS last_success_age_hours=0\.0[78]", block[-1]), block
    assert "env_richpanel_outbound_disabled PASS value=false present=true" in block
    assert len(block) == 1 + 16
    # The vendors really were asked, with the keys from Secrets Manager.
    paths = sorted({r.path for r in vendors.requests})
    assert paths == ["/admin/api/2024-01/graphql.json", "/admin/api/2024-01/shop.json", "/v1/users"]
    doc = json.loads((tmp_path / "p.json").read_text())
    assert doc["overall_status"] == "PASS"
    assert {c["outcome"] for c in doc["checks"]} == {"PASS"}


def test_seed_001_preflight_fails_closed_on_a_missing_flag_and_secret(
    tmp_path: Path, vendors: LoopbackHTTPServer, secrets_manager: MotoService
) -> None:
    """Invariant "preflight fails closed if required env flags or secrets are missing": exit 1, and the lines
    say which flag and which secret."""
    import boto3

    boto3.client("secretsmanager", endpoint_url=secrets_manager.endpoint_url, region_name="us-east-2").delete_secret(
        SecretId="rp-mw/prod/openai/api_key", ForceDeleteWithoutRecovery=True
    )
    path = write_runbook(tmp_path, vendors, secrets_manager)
    env = {**os.environ, **TEST_PLAN_ENV}
    del env["RICHPANEL_OUTBOUND_ENABLED"]
    proc = preflight(path, tmp_path, env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    block = (tmp_path / "preflight.md").read_text().split("```text\n", 1)[1].split("```", 1)[0].splitlines()
    assert block[0] == "overall_status FAIL"
    assert (
        'env_richpanel_outbound_disabled FAIL present=false -- RICHPANEL_OUTBOUND_ENABLED is not set, expected "false"'
        in block
    )
    missing = next(line for line in block if line.startswith("sm_openai_api_key "))
    assert missing.startswith("sm_openai_api_key FAIL present=false -- secret"), missing
    assert "rp-mw/prod/openai/api_key" in missing
