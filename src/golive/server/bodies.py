"""Request bodies: a JSON body validated against its pydantic model, a multipart confirm with evidence files,
and file names made safe for disk and headers.

A JSON body is at most JSON_BODY_MAX bytes (413 past it, counted as it streams, whatever Content-Length
says); an empty body is ``{}``; a body that does not match its model is a 422 naming the first fields at
fault. An upload needs a Content-Length within the server's ``max_upload`` (411, 413); its files land in a
private temporary directory that the app removes when the request ends.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from golive.server import schemas
from golive.server.call import Call, HTTPProblem

__all__ = ["JSON_BODY_MAX", "read_confirm_form", "read_json", "safe_name", "validation_message"]

JSON_BODY_MAX = 1024 * 1024  # bytes of a JSON request body


async def read_json(request: Request, model: type[BaseModel]) -> BaseModel:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > JSON_BODY_MAX:
        raise HTTPProblem(413, "too_large", f"the body is larger than {JSON_BODY_MAX} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > JSON_BODY_MAX:
            raise HTTPProblem(413, "too_large", f"the body is larger than {JSON_BODY_MAX} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raw = b"{}"
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise HTTPProblem(422, "invalid", validation_message(exc)) from None


def validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


async def read_confirm_form(call: Call) -> schemas.ConfirmRequest:
    """multipart/form-data confirm: fields inputs (JSON object), failed, reason; files evidence."""
    request = call.request
    limit = call.state.config.max_upload
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise HTTPProblem(411, "length_required", "an upload needs a Content-Length header")
    if int(length) > limit:
        raise HTTPProblem(413, "too_large", f"the upload is larger than the server's max_upload ({limit} bytes)")
    form = await request.form(max_files=20, max_fields=50)
    try:
        raw_inputs = form.get("inputs")
        inputs: Any = {}
        if isinstance(raw_inputs, str) and raw_inputs.strip():
            try:
                inputs = json.loads(raw_inputs)
            except json.JSONDecodeError:
                raise HTTPProblem(422, "invalid", "inputs: must be a JSON object of name -> value") from None
        failed_raw = form.get("failed")
        failed = isinstance(failed_raw, str) and failed_raw.lower() in ("1", "true", "yes", "on")
        reason = form.get("reason")
        try:
            body = schemas.ConfirmRequest(
                inputs=inputs, failed=failed, reason=reason if isinstance(reason, str) else ""
            )
        except ValidationError as exc:
            raise HTTPProblem(422, "invalid", validation_message(exc)) from None
        tmp = Path(tempfile.mkdtemp(prefix="golive-upload-"))
        for item in form.getlist("evidence"):
            if isinstance(item, str):
                continue
            name = safe_name(item.filename or "")
            target = tmp / name
            n = 1
            while target.exists():
                target = tmp / f"{n}-{name}"
                n += 1
            data = await item.read()
            target.write_bytes(data)
            call.files.append(target)
        return body
    finally:
        await form.close()


_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._+-]+")


def safe_name(name: str, default: str = "evidence") -> str:
    """A file name safe on disk and in a Content-Disposition header: no path, no quotes, no control bytes."""
    base = _UNSAFE_NAME.sub("_", Path(name.replace("\\", "/")).name).strip("._")
    return base[:120] or default
