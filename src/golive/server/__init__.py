"""The war room: REST API, bearer tokens, SSE and the live dashboard, over the same store and rules as the CLI.

``golive serve`` runs :func:`create_app` on uvicorn; ``golive token create`` makes tokens. See docs/server.md.
"""

from __future__ import annotations

from golive.server.app import create_app
from golive.server.auth import Principal, create_token
from golive.server.config import ServerConfig, hash_token, load_config

__all__ = ["Principal", "ServerConfig", "create_app", "create_token", "hash_token", "load_config"]
