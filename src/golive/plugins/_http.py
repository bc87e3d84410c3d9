"""The shared HTTP client of a run: one pooled aiohttp session behind a small, typed interface.

Why aiohttp and not httpx: pre-flight runs hundreds of HTTP checks at once. On this project's
benchmark (benchmarks/preflight_plugins.py, a loopback server answering after 100 ms), 1,000
concurrent GETs take about 0.3 s with aiohttp and about 18 s with httpx 0.28, whose connection pool
serialises on a lock under that much concurrency. The interface below hides the library, so a plugin
never imports aiohttp and a future swap touches only this module.

Failures are raised as :class:`HttpFailure` with ``kind`` one of ``timeout``, ``connect``, ``tls``,
``protocol``, ``too_large`` or ``invalid``, and a message that a summary can show as is. Plugins turn
them into ``Outcome.ERROR`` results: never a pass.
"""

from __future__ import annotations

import base64
import json as jsonlib
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from golive.exceptions import HttpFailure, HttpFailureKind

if TYPE_CHECKING:  # aiohttp costs ~90 ms to import, asyncio and ssl ~35 ms: only runs that send requests pay them
    import ssl

    import aiohttp

__all__ = [
    "HTTP_MAX_CONNECTIONS",
    "MAX_BODY_BYTES",
    "HttpClient",
    "HttpFailure",
    "HttpResponse",
    "TlsOptions",
    "make_http_client",
]

HTTP_MAX_CONNECTIONS = 2000  # open sockets per run; 1,000 concurrent checks must not queue on the pool
MAX_BODY_BYTES = 8 * 1024 * 1024  # bytes read from one response; a health endpoint is not a download
USER_AGENT = "golive"

FailureKind = HttpFailureKind
_NO_JSON = object()


@dataclass(frozen=True, slots=True)
class TlsOptions:
    """How to verify the server: verified against the system CAs by default."""

    verify: bool = True
    ca_file: str | None = None


@dataclass(slots=True)
class HttpResponse:
    """A complete response: status, headers (lower-case names), body and latency."""

    status: int
    headers: dict[str, str]
    body: bytes
    elapsed_ms: float
    url: str
    _json: Any = field(default=_NO_JSON, repr=False)

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON; ``ValueError`` with a short reason if it is not JSON."""
        if self._json is _NO_JSON:
            try:
                self._json = jsonlib.loads(self.body)
            except (ValueError, UnicodeDecodeError) as exc:
                raise ValueError(f"response is not JSON ({exc})") from None
        return self._json


class HttpClient:
    """A pooled HTTP client shared by every plugin of a run; create one per run and close it.

    The underlying session is created on first use, inside the running event loop.
    """

    def __init__(
        self,
        *,
        max_connections: int = HTTP_MAX_CONNECTIONS,
        trust_env: bool = False,
        user_agent: str = USER_AGENT,
    ) -> None:
        self._max_connections = max_connections
        self._trust_env = trust_env
        self._user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None
        self._ssl: dict[TlsOptions, ssl.SSLContext | bool] = {}
        self._closed = False

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every pooled connection."""
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _get_session(self) -> aiohttp.ClientSession:
        import aiohttp

        if self._closed:
            raise HttpFailure("invalid", "the run's HTTP client is closed")
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=0, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector,
                # Checks must not leak cookies into each other.
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=self._trust_env,
                headers={"User-Agent": self._user_agent},
            )
        return self._session

    def _ssl_for(self, tls: TlsOptions) -> ssl.SSLContext | bool:
        """One SSLContext per distinct TLS setting: building one costs milliseconds."""
        import ssl

        ctx = self._ssl.get(tls)
        if ctx is None:
            if not tls.verify:
                ctx = False
            else:
                try:
                    ctx = ssl.create_default_context(cafile=tls.ca_file)
                except (OSError, ssl.SSLError) as exc:
                    raise HttpFailure("invalid", f"cannot load ca_file {tls.ca_file!r}: {exc}") from None
            self._ssl[tls] = ctx
        return ctx

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        content: bytes | str | None = None,
        json: Any = _NO_JSON,
        timeout: float = 30.0,  # noqa: ASYNC109  # the boundary owns its deadline; seconds, for the whole exchange
        tls: TlsOptions = TlsOptions(),  # frozen dataclass, safe as a default
        basic_auth: tuple[str, str] | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        follow_redirects: bool = True,
    ) -> HttpResponse:
        """Send one request and read the whole response; :class:`HttpFailure` if there is none."""
        from golive.plugins import _stubbed as stubs

        transport = stubs.active()
        if transport is not None:  # a stubbed rehearsal: the stubs answer in place of the network
            return await transport.http(method, url, params, timeout, headers)
        resp = await self._send(
            method,
            url,
            headers=headers,
            params=params,
            content=content,
            json=json,
            timeout=timeout,
            tls=tls,
            basic_auth=basic_auth,
            max_body_bytes=max_body_bytes,
            follow_redirects=follow_redirects,
        )
        recorder = stubs.recording()
        if recorder is not None:
            recorder.http(method, url, params, resp)
        return resp

    async def _send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None,
        params: Mapping[str, str] | None,
        content: bytes | str | None,
        json: Any,
        timeout: float,  # noqa: ASYNC109
        tls: TlsOptions,
        basic_auth: tuple[str, str] | None,
        max_body_bytes: int,
        follow_redirects: bool,
    ) -> HttpResponse:
        import asyncio

        import aiohttp

        session = self._get_session()
        kwargs: dict[str, Any] = {
            "headers": dict(headers or {}),
            "params": dict(params) if params else None,
            "timeout": aiohttp.ClientTimeout(total=timeout),
            "ssl": self._ssl_for(tls) if url.startswith("https:") else True,
            "allow_redirects": follow_redirects,
        }
        if json is not _NO_JSON:
            kwargs["data"] = jsonlib.dumps(json).encode()
            kwargs["headers"].setdefault("Content-Type", "application/json")
        elif content is not None:
            kwargs["data"] = content.encode() if isinstance(content, str) else content
        if basic_auth is not None:
            token = base64.b64encode(f"{basic_auth[0]}:{basic_auth[1]}".encode()).decode("ascii")
            kwargs["headers"]["Authorization"] = f"Basic {token}"
        started = time.perf_counter()
        try:
            async with session.request(method.upper(), url, **kwargs) as resp:
                declared = resp.content_length
                if declared is not None and declared > max_body_bytes:
                    raise HttpFailure("too_large", f"response body is {declared} bytes, over {max_body_bytes}")
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    size += len(chunk)
                    if size > max_body_bytes:
                        raise HttpFailure("too_large", f"response body is over {max_body_bytes} bytes")
                    chunks.append(chunk)
                elapsed = (time.perf_counter() - started) * 1000.0
                hdrs: dict[str, str] = {}
                for k, v in resp.headers.items():
                    key = k.lower()
                    hdrs[key] = f"{hdrs[key]}, {v}" if key in hdrs else v
                return HttpResponse(
                    status=resp.status, headers=hdrs, body=b"".join(chunks), elapsed_ms=elapsed, url=str(resp.url)
                )
        except HttpFailure:
            raise
        except TimeoutError:
            raise HttpFailure("timeout", f"{method.upper()} {_short(url)} timed out after {timeout:g} s") from None
        except aiohttp.ClientConnectorCertificateError as exc:
            raise HttpFailure(
                "tls", f"TLS verification of {exc.host}:{exc.port} failed: {_ssl_reason(exc.certificate_error)}"
            ) from None
        except aiohttp.ClientSSLError as exc:
            raise HttpFailure("tls", f"TLS handshake with {_short(url)} failed: {exc}") from None
        except aiohttp.ClientConnectorError as exc:
            err = exc.os_error
            # asyncio's "Connect call failed (...)" hides the reason; the errno names it.
            reason = os.strerror(err.errno) if err.errno else (err.strerror or str(err))
            raise HttpFailure("connect", f"cannot connect to {exc.host}:{exc.port}: {reason}") from None
        except aiohttp.InvalidURL as exc:
            raise HttpFailure("invalid", f"invalid URL {exc}") from None
        except (aiohttp.ClientError, asyncio.IncompleteReadError) as exc:
            raise HttpFailure(
                "protocol", f"{method.upper()} {_short(url)} failed: {type(exc).__name__}: {exc}"
            ) from None
        except (OSError, ValueError) as exc:
            raise HttpFailure("protocol", f"{method.upper()} {_short(url)} failed: {exc}") from None


def _short(url: str) -> str:
    """The URL without its query string (which may carry tokens)."""
    return url.split("?", 1)[0]


def _ssl_reason(err: Exception) -> str:
    import ssl

    if isinstance(err, ssl.SSLCertVerificationError) and err.verify_message:
        return str(err.verify_message)
    return str(err)


def make_http_client(*, max_connections: int = HTTP_MAX_CONNECTIONS, trust_env: bool = False) -> HttpClient:
    """The factory the engine calls once per run (``StepContext.http_pool = lambda: client``)."""
    return HttpClient(max_connections=max_connections, trust_env=trust_env)
