"""AWS Secrets Manager provider (boto3, run in a worker thread so the event loop never blocks)."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from pydantic import Field

from golive import exceptions
from golive.plugins import _util, base
from golive.plugins.secrets.local import pick_key

__all__ = ["AwsSecretOptions", "AwsSecretsManager"]

AWS_CONNECT_TIMEOUT = 5  # seconds
AWS_READ_TIMEOUT = 10  # seconds
AWS_MAX_ATTEMPTS = 3  # botocore standard retry mode attempts


class AwsSecretOptions(base.SecretRefParams):
    """Options of the aws-secretsmanager provider."""

    region: str | None = Field(default=None, description="AWS region, e.g. us-east-2 (default: the profile's).")
    profile: str | None = Field(default=None, description="AWS named profile, e.g. rp-admin-prod.")
    endpoint_url: str | None = Field(default=None, description="Custom endpoint (a VPC endpoint, or a test server).")
    version_stage: str | None = Field(default=None, description="Version stage to read (default AWSCURRENT).")


class AwsSecretsManager(base.SecretProvider):
    """Secrets from AWS Secrets Manager; with ``key``, a key of a JSON secret."""

    name = "aws-secretsmanager"
    params = AwsSecretOptions
    description = "AWS Secrets Manager (region, profile, endpoint_url); JSON secrets with keys."

    def __init__(self, options: base.Params) -> None:
        super().__init__(options)
        self._client: Any = None
        self._lock = threading.Lock()

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3  # late: boto3 takes ~0.3 s to import and most runs never need it
                import botocore.config

                opts: AwsSecretOptions = self.options  # type: ignore[assignment]
                session = boto3.session.Session(profile_name=opts.profile, region_name=opts.region)
                config = botocore.config.Config(
                    connect_timeout=AWS_CONNECT_TIMEOUT,
                    read_timeout=AWS_READ_TIMEOUT,
                    retries={"max_attempts": AWS_MAX_ATTEMPTS, "mode": "standard"},
                )
                self._client = session.client("secretsmanager", endpoint_url=opts.endpoint_url, config=config)
            return self._client

    def _fetch(self, secret_id: str) -> str:
        import botocore.exceptions

        opts: AwsSecretOptions = self.options  # type: ignore[assignment]
        try:
            client = self._get_client()
            kwargs: dict[str, str] = {"SecretId": secret_id}
            if opts.version_stage:
                kwargs["VersionStage"] = opts.version_stage
            resp = client.get_secret_value(**kwargs)
        except botocore.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            msg = exc.response.get("Error", {}).get("Message", "")
            if code == "ResourceNotFoundException":
                raise _util.SecretMissing(f"no secret {secret_id!r} in Secrets Manager") from None
            raise exceptions.SecretError(f"Secrets Manager refused {secret_id!r}: {code}: {msg}") from None
        except botocore.exceptions.ProfileNotFound as exc:
            raise exceptions.SecretError(f"AWS profile not found: {exc}") from None
        except botocore.exceptions.NoCredentialsError:
            raise exceptions.SecretError("no AWS credentials (set a profile, or AWS_* variables)") from None
        except botocore.exceptions.NoRegionError:
            raise exceptions.SecretError("no AWS region: set the provider option `region`") from None
        except botocore.exceptions.BotoCoreError as exc:
            raise exceptions.SecretError(f"Secrets Manager unreachable: {exc}") from None
        if "SecretString" in resp:
            return str(resp["SecretString"])
        raw = resp.get("SecretBinary")
        if raw is None:
            raise exceptions.SecretError(f"secret {secret_id!r} has no value")
        return bytes(raw).decode("utf-8", "replace")

    async def resolve(self, secret_id: str, key: str | None = None) -> str:
        value = await asyncio.to_thread(self._fetch, secret_id)
        if key is None:
            return value
        try:
            doc = json.loads(value)
        except ValueError:
            raise _util.SecretMissing(f"secret {secret_id!r} is not JSON, so it has no key {key!r}") from None
        return pick_key(doc, key, f"secret {secret_id!r}")
