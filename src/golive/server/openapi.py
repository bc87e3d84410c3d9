"""Endpoints as data, and the OpenAPI 3.1 document built from them.

Every API route is declared once as an :class:`Endpoint` (the table is golive.server.endpoints); the app's
routes and the document are both made from that list, so a route cannot exist without being documented, and
the schemas are the pydantic models the handlers actually validate with. This module knows nothing of the
app: an Endpoint is generic in what its handler takes (the app's ``Call``), so the document is built from
the declarations alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from golive.server import schemas

__all__ = ["Access", "Endpoint", "Param", "build_document"]

Access = Literal["public", "read", "act", "start"]
C = TypeVar("C")  # what a handler is called with (golive.server.call.Call)

_ERROR_TEXT = {
    400: "The request is not valid for this run (the message says why and how to fix it).",
    401: "No bearer token, or an unknown or revoked one.",
    403: "The token may not do this, or the runbook's rules refuse the act (the message says why).",
    404: "No such run, step or file.",
    409: "Another act landed first and this one no longer applies (e.g. already decided: NO-GO by alice at "
    "10:42:07Z), or the run is in a state where this cannot be done now.",
    413: "The upload is too large.",
    422: "The body does not match the schema, or the runbook is invalid.",
    429: "Too many failed authentications from this address; retry after Retry-After seconds.",
    501: "This build has no such feature.",
    503: "The store is unavailable.",
}


@dataclass(frozen=True)
class Param:
    name: str
    where: Literal["path", "query", "header"]
    description: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False


@dataclass(frozen=True)
class Endpoint(Generic[C]):
    """One API operation: its route, who may call it, what it takes and what it returns."""

    method: Literal["GET", "POST", "DELETE"]
    path: str
    name: str
    summary: str
    handler: Callable[[C], Awaitable[Any]]
    access: Access = "read"
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    media_type: str = "application/json"
    status: int = 200
    params: tuple[Param, ...] = ()
    errors: tuple[int, ...] = ()
    tag: str = "runs"
    description: str = ""
    alt_body_media: tuple[str, ...] = ()  # other request media types accepted (e.g. multipart/form-data)


def _path_params(path: str) -> list[str]:
    out = []
    rest = path
    while "{" in rest:
        start = rest.index("{")
        end = rest.index("}", start)
        out.append(rest[start + 1 : end].split(":")[0])
        rest = rest[end + 1 :]
    return out


def build_document(endpoints: Sequence[Endpoint[Any]], version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``endpoints``."""
    models: list[type[BaseModel]] = [schemas.ErrorBody]
    for ep in endpoints:
        for m in (ep.body, ep.response):
            if m is not None and m not in models:
                models.append(m)

    def mode(model: type[BaseModel]) -> Literal["validation", "serialization"]:
        # Request bodies are documented as validated (what a client may send), the rest as serialized.
        return "validation" if any(ep.body is model for ep in endpoints) else "serialization"

    keys, defs = models_json_schema(
        [(m, mode(m)) for m in models],
        ref_template="#/components/schemas/{model}",
    )
    components = dict(defs.get("$defs", {}))

    def ref(model: type[BaseModel]) -> dict[str, Any]:
        return keys[(model, mode(model))]

    paths: dict[str, dict[str, Any]] = {}
    for ep in endpoints:
        op: dict[str, Any] = {
            "operationId": ep.name,
            "summary": ep.summary,
            "tags": [ep.tag],
        }
        if ep.description:
            op["description"] = ep.description
        params = [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
            for p in _path_params(ep.path)
            if not any(x.name == p for x in ep.params)
        ]
        for p in ep.params:
            params.append(
                {
                    "name": p.name,
                    "in": p.where,
                    "required": p.required or p.where == "path",
                    "description": p.description,
                    "schema": p.schema,
                }
            )
        if params:
            op["parameters"] = params
        if ep.body is not None:
            content: dict[str, Any] = {"application/json": {"schema": ref(ep.body)}}
            for media in ep.alt_body_media:
                content[media] = {"schema": {"type": "object", "description": "See the JSON body's description."}}
            op["requestBody"] = {"required": True, "content": content}
        ok: dict[str, Any] = {
            "description": "OK" if ep.status == 200 else "Accepted" if ep.status == 202 else "Created"
        }
        if ep.response is not None:
            ok["content"] = {ep.media_type: {"schema": ref(ep.response)}}
        elif ep.media_type == "text/event-stream":
            ok["content"] = {
                "text/event-stream": {
                    "schema": {
                        "type": "string",
                        "description": "Server-sent events: `id:` is the event's seq, `data:` an EventOut object.",
                    }
                }
            }
        elif ep.media_type == "application/json":
            ok["content"] = {"application/json": {"schema": {"type": "object"}}}
        else:
            ok["content"] = {ep.media_type: {"schema": {"type": "string", "format": "binary"}}}
        responses: dict[str, Any] = {str(ep.status): ok}
        errors = set(ep.errors)
        if ep.access != "public":
            errors |= {401, 429}
        if ep.access in ("act", "start"):
            errors |= {403}
        if ep.access == "act":
            errors |= {409}
        if ep.body is not None:
            errors |= {422}
        for code in sorted(errors):
            responses[str(code)] = {
                "description": _ERROR_TEXT.get(code, "Error."),
                "content": {"application/json": {"schema": ref(schemas.ErrorBody)}},
            }
        op["responses"] = responses
        if ep.access != "public":
            op["security"] = [{"bearer": []}]
        else:
            op["security"] = []
        paths.setdefault(ep.path, {})[ep.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "golive war room",
            "version": version,
            "description": (
                "Runs, acts and live events of golive go-live runbooks. Every act is attributed to the token's "
                "user and checked by the same rules as the golive CLI."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `golive token create` or the server's token map.",
                }
            },
        },
        "security": [{"bearer": []}],
    }
