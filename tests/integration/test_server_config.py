"""The server's config: token maps from a file and the environment (kept as hashes), and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from golive import exceptions
from golive.server import config as config_mod

TOKEN = "glv_example-token-0123456789"


def test_plain_tokens_from_file_and_env_are_kept_only_as_hashes(tmp_path: Path) -> None:
    """A token map in the file and in $GOLIVE_API_TOKEN_MAP_JSON is loaded as sha256 digests, not text."""
    cfg_file = tmp_path / "serve.yaml"
    cfg_file.write_text(
        f'tokens:\n  "{TOKEN}": {{user_id: alice, roles: [ic]}}\ncors_origins: ["https://warroom.example.com"]\n'
        "runbook_dir: runbooks\n"
    )
    env_map = {"glv_env-token-0123456789abc": {"user_id": "admin.prod", "roles": ["admin"]}}
    cfg = config_mod.load_config(cfg_file, {config_mod.ENV_TOKEN_MAP: json.dumps(env_map)})
    assert cfg.token_hashes[config_mod.hash_token(TOKEN)].user_id == "alice"
    assert cfg.token_hashes[config_mod.hash_token("glv_env-token-0123456789abc")].roles == ("admin",)
    assert TOKEN not in repr(cfg.model_dump())
    assert cfg.runbook_dir == (tmp_path / "runbooks").resolve()
    assert cfg.cors_origins == ("https://warroom.example.com",)


def test_hashed_keys_and_comma_roles_are_accepted(tmp_path: Path) -> None:
    """'sha256:<hex>' keys need no plain token in the file; roles may be a comma list."""
    digest = config_mod.hash_token(TOKEN)
    cfg_file = tmp_path / "serve.json"
    cfg_file.write_text(json.dumps({"tokens": {f"sha256:{digest}": {"user_id": "bob", "roles": "ops, viewer"}}}))
    cfg = config_mod.load_config(cfg_file, {})
    assert cfg.token_hashes[digest].roles == ("ops", "viewer")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('tokens:\n  "short": {user_id: a}\n', "shorter than 16"),
        ('tokens:\n  "sha256:abc": {user_id: a}\n', "64 hex digits"),
        (f'tokens:\n  "{TOKEN}": {{roles: [ic]}}\n', "user_id"),
        ('cors_origins: ["*"]\n', "list the origins"),
        ("cors_origins: [warroom.example.com]\n", "scheme://host"),
        ("auth_failures: {max: 0}\n", "auth_failures.max"),
        ("nonsense: 1\n", "nonsense"),
        ("tokens: [a, b]\n", "must be a mapping"),
        ("cors_origins: [\n", "serve.yaml:2:1"),
    ],
)
def test_bad_config_names_the_field_and_never_echoes_a_token(tmp_path: Path, text: str, expected: str) -> None:
    """Each mistake is a UsageError naming the file and field; a token is never in the message."""
    cfg_file = tmp_path / "serve.yaml"
    cfg_file.write_text(text)
    with pytest.raises(exceptions.UsageError) as err:
        config_mod.load_config(cfg_file, {})
    assert expected in err.value.message
    assert TOKEN not in err.value.message


def test_bad_env_token_map_is_a_usage_error() -> None:
    """Malformed JSON in the environment names the variable and the expected form."""
    with pytest.raises(exceptions.UsageError, match=config_mod.ENV_TOKEN_MAP):
        config_mod.load_config(None, {config_mod.ENV_TOKEN_MAP: "{not json"})


def test_missing_config_file_is_a_usage_error(tmp_path: Path) -> None:
    """A config path that does not exist says so."""
    with pytest.raises(exceptions.UsageError, match="cannot read"):
        config_mod.load_config(tmp_path / "nope.yaml", {})
