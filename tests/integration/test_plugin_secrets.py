"""Secret providers against real backends: env, files, moto's Secrets Manager, and a Vault KV v2 API.

No Vault server can be installed here (it is not packaged by Debian, and the PyPI helpers download
the binary at run time), so the vault provider is tested against a loopback server that speaks the
KV v2 read API (`GET /v1/<mount>/data/<path>` with `X-Vault-Token`), through the real hvac client.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from golive import exceptions
from golive.plugins import _util
from golive.plugins.checks.env import SecretCheck, SecretParams
from golive.plugins.secrets.aws import AwsSecretOptions, AwsSecretsManager
from golive.plugins.secrets.local import EnvSecretOptions, EnvSecrets, FileSecretOptions, FileSecrets
from golive.plugins.secrets.vault import VaultSecretOptions, VaultSecrets
from golive.results import Outcome
from golive.testing import make_ctx

from .conftest import LoopbackHTTPServer, MotoService, Reply, Request

VALUE = "rk_live_0123456789abcdef"


async def test_env_provider_reads_a_variable_and_a_json_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """env: the variable's value, or a key of a JSON value; upper_snake maps path-like ids."""
    monkeypatch.setenv("RP_MW_PROD_RICHPANEL_API_KEY", VALUE)
    monkeypatch.setenv("DB", json.dumps({"password": "pw1"}))
    snake = EnvSecrets(EnvSecretOptions(upper_snake=True))
    assert await snake.resolve("rp-mw/prod/richpanel/api_key") == VALUE
    assert await EnvSecrets(EnvSecretOptions()).resolve("DB", "password") == "pw1"
    with pytest.raises(_util.SecretMissing, match="no key 'user'"):
        await EnvSecrets(EnvSecretOptions()).resolve("DB", "user")


async def test_file_provider_raw_json_and_dotenv(tmp_path: Path) -> None:
    """file: a raw file (trailing newline stripped), a JSON key, a dotenv key."""
    (tmp_path / "token").write_text(VALUE + "\n")
    (tmp_path / "creds.json").write_text(json.dumps({"db": {"password": "pw2"}}))
    (tmp_path / "prod.env").write_text("# comment\nexport API_KEY='abc def'\nOTHER=1\n")
    p = FileSecrets(FileSecretOptions(dir=str(tmp_path)))
    assert await p.resolve("token") == VALUE
    assert await p.resolve("creds.json", "db.password") == "pw2"
    assert await p.resolve("prod.env", "API_KEY") == "abc def"
    with pytest.raises(_util.SecretMissing):
        await p.resolve("missing")


async def test_aws_provider_reads_string_and_json_key(aws_env: MotoService) -> None:
    """aws-secretsmanager: a plain secret, a key of a JSON secret; a missing one is SecretMissing."""
    import boto3

    client = boto3.client("secretsmanager", endpoint_url=aws_env.endpoint_url, region_name="us-east-2")
    client.create_secret(Name="rp-mw/prod/richpanel/api_key", SecretString=VALUE)
    client.create_secret(Name="rp-mw/prod/db", SecretString=json.dumps({"user": "app", "password": "pw3"}))
    provider = AwsSecretsManager(AwsSecretOptions(region="us-east-2", endpoint_url=aws_env.endpoint_url))
    assert await provider.resolve("rp-mw/prod/richpanel/api_key") == VALUE
    assert await provider.resolve("rp-mw/prod/db", "password") == "pw3"
    with pytest.raises(_util.SecretMissing, match="no secret 'rp-mw/prod/nope'"):
        await provider.resolve("rp-mw/prod/nope")
    with pytest.raises(_util.SecretMissing, match="keys: password, user"):
        await provider.resolve("rp-mw/prod/db", "token")


async def test_secret_check_passes_without_showing_the_value(aws_env: MotoService) -> None:
    """The secret check passes for a present secret and its result holds no trace of the value."""
    import boto3

    boto3.client("secretsmanager", endpoint_url=aws_env.endpoint_url, region_name="us-east-2").create_secret(
        Name="rp-mw/prod/richpanel/bot_agent_id", SecretString=VALUE
    )
    p = SecretParams(
        provider="aws-secretsmanager",
        id="rp-mw/prod/richpanel/bot_agent_id",
        options={"region": "us-east-2", "endpoint_url": aws_env.endpoint_url},
    )
    result = await SecretCheck().run(make_ctx(p))
    assert result.outcome is Outcome.PASS, result.summary
    assert result.output["present"] is True
    assert VALUE not in result.model_dump_json()


async def test_secret_check_missing_secret_fails(aws_env: MotoService) -> None:
    """A secret that does not exist fails (fail closed) and names it."""
    p = SecretParams(
        provider="aws-secretsmanager",
        id="rp-mw/prod/openai/api_key",
        options={"region": "us-east-2", "endpoint_url": aws_env.endpoint_url},
    )
    result = await SecretCheck().run(make_ctx(p))
    assert result.outcome is Outcome.FAIL
    assert "rp-mw/prod/openai/api_key is missing" in result.summary


async def test_secret_check_unreachable_provider_is_an_error(aws_env: MotoService, closed_port: int) -> None:
    """Secrets Manager not answering is an ERROR, not a missing secret."""
    p = SecretParams(
        provider="aws-secretsmanager",
        id="x",
        options={"region": "us-east-2", "endpoint_url": f"http://127.0.0.1:{closed_port}"},
    )
    result = await SecretCheck().run(make_ctx(p))
    assert result.outcome is Outcome.ERROR
    assert "unreachable" in result.summary


async def test_secret_check_unknown_provider_is_an_error() -> None:
    """An unknown provider name is an ERROR listing the known ones."""
    result = await SecretCheck().run(make_ctx(SecretParams(provider="keepass", id="x")))
    assert result.outcome is Outcome.ERROR
    assert "aws-secretsmanager" in result.summary


VAULT_TOKEN = "hvs.test-token"


@pytest.fixture
def vault(http_server: LoopbackHTTPServer, monkeypatch: pytest.MonkeyPatch) -> LoopbackHTTPServer:
    """A loopback server answering Vault's KV v2 read API for mount `secret`."""
    store: dict[str, dict[str, Any]] = {
        "golive/prod/richpanel": {"api_key": VALUE, "webhook_token": "wh-1"},
        "golive/prod/single": {"value": "only-one"},
    }

    def read(req: Request) -> Reply:
        if req.headers.get("x-vault-token") != VAULT_TOKEN:
            return Reply.of_json({"errors": ["permission denied"]}, status=403)
        path = req.path.removeprefix("/v1/secret/data/")
        if path not in store:
            return Reply.of_json({"errors": []}, status=404)
        return Reply.of_json(
            {"data": {"data": store[path], "metadata": {"version": 1, "deletion_time": "", "destroyed": False}}}
        )

    for path in [*store, "golive/prod/none"]:
        http_server.handle(f"/v1/secret/data/{path}", read, method="GET")
    monkeypatch.setenv("VAULT_TOKEN", VAULT_TOKEN)
    return http_server


async def test_vault_provider_reads_kv2_fields(vault: LoopbackHTTPServer) -> None:
    """vault: a named field; the only field when no key is given; a missing path is SecretMissing."""
    provider = VaultSecrets(VaultSecretOptions(url=vault.url("")))
    assert await provider.resolve("golive/prod/richpanel", "api_key") == VALUE
    assert await provider.resolve("golive/prod/single") == "only-one"
    with pytest.raises(exceptions.SecretError, match="several fields"):
        await provider.resolve("golive/prod/richpanel")
    with pytest.raises(_util.SecretMissing):
        await provider.resolve("golive/prod/none")
    assert vault.requests[0].headers["x-vault-token"] == VAULT_TOKEN


async def test_vault_provider_bad_token_is_refused(vault: LoopbackHTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong token is a SecretError (permission denied), not a missing secret."""
    monkeypatch.setenv("VAULT_TOKEN", "wrong")
    provider = VaultSecrets(VaultSecretOptions(url=vault.url("")))
    with pytest.raises(exceptions.SecretError, match="permission denied") as info:
        await provider.resolve("golive/prod/richpanel", "api_key")
    assert not isinstance(info.value, _util.SecretMissing)
