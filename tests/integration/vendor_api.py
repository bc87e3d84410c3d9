"""A loopback stand-in for a SaaS API that checks every request against the vendor's API description.

`VendorApi` serves on 127.0.0.1 (aiohttp) from an OpenAPI document in `vendor_apis/` (transcribed from
the vendor's published API description). Before a handler sees a request, the server checks:

- the path matches one of the document's path templates, and the method is one of its operations;
- the security requirement holds (the header the scheme names carries an accepted credential) -> 401;
- required header and query parameters are there, and enum values are among the allowed ones;
- the body's media type is one the operation takes, it parses, and it validates against the schema.

A request that breaks a rule is answered 400 (404/405 for an unknown path or method) and its reason is
kept in `rejected`, so a test can assert that nothing was malformed and the fake cannot drift into
accepting anything. Faults (`fault_status`, `delay`) are applied after the checks.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from openapi_schema_validator import OAS30Validator, OAS31Validator

from .conftest import LOOPBACK

DOCS = Path(__file__).resolve().parent / "vendor_apis"


@dataclass
class Call:
    """One request that passed the checks, as a handler sees it."""

    operation: str
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    media_type: str | None

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


Handler = Callable[[Call], tuple[int, Any]]


def load(name: str) -> dict[str, Any]:
    """An API description from vendor_apis/ by file name."""
    doc: dict[str, Any] = yaml.safe_load((DOCS / name).read_text())
    return doc


def _media(value: str | None) -> str | None:
    if not value:
        return None
    return ";".join(part.strip().lower() for part in value.split(";") if part.strip())


@dataclass
class VendorApi:
    """An OpenAPI-checked loopback server.

    `credentials` maps a security scheme name to the values it accepts; given any, a scheme not named
    accepts nothing (without any, every credential of the right shape is accepted).
    """

    doc: dict[str, Any]
    handlers: dict[str, Handler]
    credentials: dict[str, set[str]] = field(default_factory=dict)
    seen: list[Call] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    # what the vendor answers a missing or refused credential with
    unauthorized: tuple[int, Any] = (401, {"code": "unauthorized", "message": "Invalid access token"})
    fault_status: int | None = None
    delay: float = 0.0  # seconds before answering (a timeout test)
    _runner: web.AppRunner | None = None
    port: int = 0

    def __post_init__(self) -> None:
        validator = OAS31Validator if str(self.doc.get("openapi", "")).startswith("3.1") else OAS30Validator
        self._validator_cls = validator
        self._routes: list[tuple[re.Pattern[str], str, dict[str, Any]]] = []
        for template, item in self.doc["paths"].items():
            params = {p["name"]: p for p in item.get("parameters", []) if p.get("in") == "path"}
            pattern = ""
            for literal, name in re.findall(r"([^{]*)(?:\{([^}]+)\})?", template):
                pattern += re.escape(literal)
                if name:
                    slashes = params.get(name, {}).get("x-allow-slashes", False)
                    pattern += f"(?P<{name}>{'.+' if slashes else '[^/]+'})"
            self._routes.append((re.compile(f"^{pattern}$"), template, item))

    async def start(self) -> VendorApi:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._serve)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, LOOPBACK, 0)
        await site.start()
        server = site._server
        assert server is not None
        assert server.sockets
        self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, path: str = "") -> str:
        return f"http://{LOOPBACK}:{self.port}{path}"

    def calls(self, operation: str) -> list[Call]:
        return [c for c in self.seen if c.operation == operation]

    # -- the checks --------------------------------------------------------------------------------------
    def _reject(self, status: int, reason: str) -> web.Response:
        self.rejected.append(reason)
        return web.json_response({"code": "invalid_request", "message": reason, "errors": [reason]}, status=status)

    def _secure(self, op: dict[str, Any], headers: dict[str, str]) -> str | None:
        """None when some alternative of the security requirement holds, else the reason."""
        requirement = op.get("security", self.doc.get("security", []))
        if not requirement:
            return None
        schemes = self.doc.get("components", {}).get("securitySchemes", {})
        reasons = []
        for alternative in requirement:
            if not alternative:
                return None
            ok = True
            for name in alternative:
                scheme = schemes[name]
                if scheme["type"] == "apiKey" and scheme["in"] == "header":
                    value = headers.get(scheme["name"].lower())
                elif scheme["type"] == "http" and scheme["scheme"].lower() in ("bearer", "basic"):
                    auth = headers.get("authorization", "")
                    prefix = scheme["scheme"].lower() + " "
                    value = auth[len(prefix) :] if auth.lower().startswith(prefix) else None
                else:
                    raise AssertionError(f"security scheme {name} is not supported by the fake")
                if value is None:
                    ok = False
                    reasons.append(f"{name}: no credential")
                elif self.credentials and value not in self.credentials.get(name, set()):
                    ok = False
                    reasons.append(f"{name}: credential not accepted")
            if ok:
                return None
        return "; ".join(reasons)

    def _validate(self, schema: dict[str, Any], instance: Any) -> str | None:
        # Refs are document-relative (#/components/...): validate against a root that carries them.
        root = {**schema, "components": self.doc.get("components", {})}
        errors = sorted(self._validator_cls(root).iter_errors(instance), key=lambda e: list(e.path))
        if not errors:
            return None
        err = errors[0]
        where = "/".join(str(p) for p in err.absolute_path) or "(body)"
        return f"{where}: {err.message}"

    def _route(self, raw_path: str) -> tuple[re.Match[str], str, dict[str, Any]] | None:
        for pattern, template, item in self._routes:
            m = pattern.match(raw_path)
            if m:
                return m, template, item
        return None

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        raw_path = request.raw_path.split("?", 1)[0]
        route = self._route(raw_path)
        if route is None:
            return self._reject(404, f"{request.method} {raw_path}: no such path in the API description")
        m, template, item = route
        op = item.get(request.method.lower())
        if op is None:
            return self._reject(405, f"{request.method} {template}: no such operation in the API description")
        headers = {k.lower(): v for k, v in request.headers.items()}
        body = await request.read()
        op_id = op.get("operationId", f"{request.method} {template}")
        problem = self._secure(op, headers)
        if problem is not None:
            self.rejected.append(f"{op_id}: unauthorized ({problem})")
            return web.json_response(self.unauthorized[1], status=self.unauthorized[0])
        query = {k: v for k, v in request.query.items()}
        path_params = {k: urllib.parse.unquote(v) for k, v in m.groupdict().items()}
        for param in [*item.get("parameters", []), *op.get("parameters", [])]:
            where, name = param["in"], param["name"]
            if where == "path" and "schema" in param:
                problem = self._validate(param["schema"], path_params.get(name))
                if problem is not None:
                    return self._reject(400, f"{op_id}: path parameter {name}: {problem}")
            source = query if where == "query" else headers if where == "header" else None
            if source is None:
                continue
            value = source.get(name.lower() if where == "header" else name)
            if value is None:
                if param.get("required"):
                    return self._reject(400, f"{op_id}: required {where} parameter {name} is missing")
                continue
            enum = param.get("schema", {}).get("enum")
            if enum is not None and value not in [str(e) for e in enum]:
                return self._reject(400, f"{op_id}: {where} parameter {name}={value!r} is not one of {enum}")
        media = _media(headers.get("content-type"))
        spec_body = op.get("requestBody")
        if spec_body is None:
            if body:
                return self._reject(400, f"{op_id}: takes no request body")
        elif not body:
            if spec_body.get("required"):
                return self._reject(400, f"{op_id}: the request body is required")
        else:
            content = {_media(k): v for k, v in spec_body.get("content", {}).items()}
            if media not in content:
                return self._reject(
                    400, f"{op_id}: media type {media!r} is not one of {sorted(k for k in content if k)}"
                )
            try:
                instance = json.loads(body)
            except ValueError:
                return self._reject(400, f"{op_id}: the body is not JSON")
            schema = content[media].get("schema")
            if schema is not None:
                problem = self._validate(schema, instance)
                if problem is not None:
                    return self._reject(400, f"{op_id}: {problem}")
        call = Call(
            operation=op_id,
            method=request.method,
            path=raw_path,
            params=path_params,
            query=query,
            headers=headers,
            body=body,
            media_type=media,
        )
        self.seen.append(call)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fault_status is not None:
            return web.json_response({"message": "injected fault"}, status=self.fault_status)
        handler = self.handlers.get(op_id)
        if handler is None:
            return web.json_response({"message": f"the test gives no handler for {op_id}"}, status=501)
        status, reply = handler(call)
        if reply is None:
            return web.Response(status=status)
        return web.json_response(reply, status=status)
