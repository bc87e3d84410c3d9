"""HashiCorp Vault provider: KV version 2 through hvac (run in a worker thread)."""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

from pydantic import Field

from golive import exceptions
from golive.plugins import _util, base
from golive.plugins.secrets.local import pick_key

__all__ = ["VaultSecretOptions", "VaultSecrets"]

DEFAULT_VAULT_ADDR = "http://127.0.0.1:8200"
VAULT_TIMEOUT = 10  # seconds per request


class VaultSecretOptions(base.SecretRefParams):
    """Options of the vault provider."""

    url: str | None = Field(default=None, description=f"Vault address (default: $VAULT_ADDR or {DEFAULT_VAULT_ADDR}).")
    mount: str = Field(default="secret", description="Mount point of the KV v2 engine.")
    token_env: str = Field(default="VAULT_TOKEN", description="Environment variable holding the Vault token.")
    namespace: str | None = Field(default=None, description="Vault Enterprise namespace.")
    verify_tls: bool = Field(default=True, description="Verify the server certificate.")
    ca_file: str | None = Field(default=None, description="PEM file of CA certificates to trust.")


class VaultSecrets(base.SecretProvider):
    """Secrets from Vault KV v2: ``secret_id`` is the path, ``key`` a field of the secret."""

    name = "vault"
    params = VaultSecretOptions
    description = "HashiCorp Vault KV v2 (url, mount; token from $VAULT_TOKEN)."

    def __init__(self, options: base.Params) -> None:
        super().__init__(options)
        self._client: Any = None
        self._lock = threading.Lock()

    def _get_client(self) -> Any:
        import hvac  # late: pulls in requests

        opts: VaultSecretOptions = self.options  # type: ignore[assignment]
        with self._lock:
            if self._client is None:
                token = os.environ.get(opts.token_env)
                if not token:
                    raise exceptions.SecretError(f"no Vault token: ${opts.token_env} is not set")
                verify: bool | str = opts.ca_file if opts.ca_file else opts.verify_tls
                self._client = hvac.Client(
                    url=opts.url or os.environ.get("VAULT_ADDR") or DEFAULT_VAULT_ADDR,
                    token=token,
                    namespace=opts.namespace,
                    verify=verify,
                    timeout=VAULT_TIMEOUT,
                )
            return self._client

    def _read(self, path: str) -> dict[str, Any]:
        import hvac.exceptions
        import requests

        opts: VaultSecretOptions = self.options  # type: ignore[assignment]
        client = self._get_client()
        try:
            resp = client.secrets.kv.v2.read_secret_version(
                path=path, mount_point=opts.mount, raise_on_deleted_version=True
            )
        except hvac.exceptions.InvalidPath:
            raise _util.SecretMissing(f"no secret at {opts.mount}/{path} in Vault") from None
        except (hvac.exceptions.Forbidden, hvac.exceptions.Unauthorized):
            raise exceptions.SecretError(f"Vault refused {opts.mount}/{path}: permission denied") from None
        except hvac.exceptions.VaultError as exc:
            raise exceptions.SecretError(f"Vault error for {opts.mount}/{path}: {type(exc).__name__}") from None
        except requests.RequestException as exc:
            raise exceptions.SecretError(f"Vault unreachable: {type(exc).__name__}") from None
        try:
            data = resp["data"]["data"]
        except (KeyError, TypeError):
            raise exceptions.SecretError(f"unexpected Vault answer for {opts.mount}/{path}") from None
        if not isinstance(data, dict):
            raise exceptions.SecretError(f"unexpected Vault answer for {opts.mount}/{path}")
        return data

    async def resolve(self, secret_id: str, key: str | None = None) -> str:
        data = await asyncio.to_thread(self._read, secret_id)
        label = f"Vault secret {secret_id!r}"
        if key is not None:
            return pick_key(data, key, label)
        if len(data) == 1:
            return pick_key(data, next(iter(data)), label)
        if "value" in data:
            return pick_key(data, "value", label)
        keys = ", ".join(sorted(data)) or "none"
        raise exceptions.SecretError(f"{label} holds several fields ({keys}); name one with `key`")
