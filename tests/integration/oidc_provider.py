"""A real OpenID provider on loopback, built from Authlib's server components, for the login tests.

Authlib's ``AuthorizationServer`` with the authorization code grant (``OpenIDCode`` for the ID token,
``CodeChallenge`` for PKCE, S256 required) and the device authorization grant (RFC 8628, with the same ID
token extension), on a small Starlette app served by uvicorn in a thread. ID tokens are RS256 JWTs signed with
a key made per provider and published at ``/jwks``; discovery at ``/.well-known/openid-configuration``.

People log in at ``/authorize`` (a form: pick the user) and approve a device code at ``/device`` (a form:
user code and user), as they would at a real provider's pages; ``approve_device`` does the latter in code.
"""

from __future__ import annotations

import asyncio
import html
import threading
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlencode

from authlib.common.security import generate_token
from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, JsonRequest, OAuth2Request
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc8628 import DeviceAuthorizationEndpoint, DeviceCodeGrant, DeviceCredentialDict
from authlib.oidc.core import AuthorizationCodeMixin
from authlib.oidc.core.grants import OpenIDCode, OpenIDToken
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from golive.server import serving

START_TIMEOUT = 20.0  # seconds


@dataclass
class Person:
    sub: str
    username: str
    groups: list[str]
    email: str = ""


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    client_secret: str
    redirect_uris: list[str] = field(default_factory=list)

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope: str) -> str:
        allowed = {"openid", "profile", "email", "groups"}
        return " ".join(s for s in (scope or "").split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return client_secret == self.client_secret

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "client_secret_basic"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", DeviceCodeGrant.GRANT_TYPE)


class Code(dict[str, Any], AuthorizationCodeMixin):  # type: ignore[misc]
    def get_redirect_uri(self) -> str:
        return str(self["redirect_uri"])

    def get_scope(self) -> str:
        return str(self["scope"])

    def get_nonce(self) -> str | None:
        return self.get("nonce")

    def get_auth_time(self) -> int:
        return int(self["auth_time"])

    def is_expired(self) -> bool:
        return time.time() > self["expires_at"]

    @property
    def code_challenge(self) -> str | None:
        return self.get("code_challenge")

    @property
    def code_challenge_method(self) -> str | None:
        return self.get("code_challenge_method")


class _Request(OAuth2Request):  # type: ignore[misc]
    def __init__(self, method: str, url: str, headers: Any, query: dict[str, str], form: dict[str, str]) -> None:
        super().__init__(method, url, headers=headers)
        self._query = query
        self._form = form
        self.payload = BasicOAuth2Payload({**query, **form})

    @property
    def args(self) -> dict[str, str]:
        return self._query

    @property
    def form(self) -> dict[str, str]:
        return self._form


class Provider:
    """The provider's state and its Authlib server; ``url`` once started."""

    def __init__(self, people: list[Person], client: Client) -> None:
        self.people = {p.username: p for p in people}
        self.client = client
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})
        self.codes: dict[str, Code] = {}
        self.devices: dict[str, DeviceCredentialDict] = {}
        self.device_grants: dict[str, tuple[Person, bool]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, to check shapes
        self.url = ""
        self.server = self._authorization_server()
        self._uvicorn: serving.Server | None = None
        self._thread: threading.Thread | None = None

    # -- Authlib ------------------------------------------------------------------------------------
    def _authorization_server(self) -> AuthorizationServer:
        provider = self

        class Server(AuthorizationServer):  # type: ignore[misc]
            def query_client(self, client_id: str) -> Client | None:
                return provider.client if client_id == provider.client.client_id else None

            def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
                provider.tokens[token["access_token"]] = {"token": token, "user": request.user}

            def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
                pass

            def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
                return request

            def create_json_request(self, request: OAuth2Request) -> JsonRequest:
                return JsonRequest(request.method, request.uri, request.headers)

            def handle_response(self, status: int, body: Any, headers: Any) -> Response:
                if isinstance(body, dict):
                    return JSONResponse(body, status_code=status, headers=dict(headers))
                return Response(body or b"", status_code=status, headers=dict(headers))

        class IdToken:
            def resolve_client_private_key(self, client: Client) -> KeySet:
                return KeySet([provider.key])

            def get_client_claims(self, client: Client) -> dict[str, Any]:
                return {"iss": provider.url, "aud": [client.client_id]}

            def get_client_algorithm(self, client: Client) -> str:
                return "RS256"

            def get_encode_header(self, client: Client) -> dict[str, Any]:
                return {"alg": "RS256", "kid": "k1"}

            def generate_user_info(self, user: Person, scope: str) -> dict[str, Any]:
                return {
                    "sub": user.sub,
                    "preferred_username": user.username,
                    "email": user.email,
                    "groups": list(user.groups),
                }

        class CodeIdToken(IdToken, OpenIDCode):  # type: ignore[misc]
            def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
                return any(c.get("nonce") == nonce for c in provider.codes.values())

        class DeviceIdToken(IdToken, OpenIDToken):  # type: ignore[misc]
            pass

        class CodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic"]

            def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
                data = request.payload.data
                provider.codes[code] = Code(
                    code=code,
                    client_id=request.client.client_id,
                    redirect_uri=request.payload.redirect_uri,
                    scope=request.scope,
                    nonce=data.get("nonce"),
                    code_challenge=data.get("code_challenge"),
                    code_challenge_method=data.get("code_challenge_method"),
                    user=request.user,
                    auth_time=int(time.time()),
                    expires_at=time.time() + 300,
                )

            def query_authorization_code(self, code: str, client: Client) -> Code | None:
                item = provider.codes.get(code)
                return item if item is not None and item["client_id"] == client.client_id else None

            def delete_authorization_code(self, authorization_code: Code) -> None:
                provider.codes.pop(authorization_code["code"], None)

            def authenticate_user(self, authorization_code: Code) -> Person:
                return authorization_code["user"]  # type: ignore[no-any-return]

        class DeviceGrant(DeviceCodeGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic"]

            def query_device_credential(self, device_code: str) -> DeviceCredentialDict | None:
                return provider.devices.get(device_code)

            def query_user_grant(self, user_code: str) -> tuple[Person, bool] | None:
                return provider.device_grants.get(user_code)

            def should_slow_down(self, credential: DeviceCredentialDict) -> bool:
                return False

        class DeviceEndpoint(DeviceAuthorizationEndpoint):  # type: ignore[misc]
            CLIENT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic"]
            INTERVAL = 1

            def get_verification_uri(self) -> str:
                return provider.url + "/device"

            def save_device_credential(self, client_id: str, scope: str, data: dict[str, Any]) -> None:
                provider.devices[data["device_code"]] = DeviceCredentialDict(
                    {**data, "client_id": client_id, "scope": scope, "expires_at": time.time() + data["expires_in"]}
                )

        server = Server(scopes_supported=["openid", "profile", "email", "groups"])
        server.register_token_generator("default", BearerTokenGenerator(lambda *a, **k: generate_token(40)))
        server.register_grant(CodeGrant, [CodeIdToken(require_nonce=True), CodeChallenge(required=True)])
        server.register_grant(DeviceGrant, [DeviceIdToken()])
        server.register_endpoint(DeviceEndpoint)
        return server

    # -- HTTP ---------------------------------------------------------------------------------------
    async def _request(self, request: Request) -> _Request:
        self.requests.append((request.method, request.url.path))
        form = {k: str(v) for k, v in (await request.form()).items()} if request.method == "POST" else {}
        return _Request(request.method, str(request.url), request.headers, dict(request.query_params), form)

    async def discovery(self, request: Request) -> Response:
        self.requests.append((request.method, request.url.path))
        u = self.url
        return JSONResponse(
            {
                "issuer": u,
                "authorization_endpoint": u + "/authorize",
                "token_endpoint": u + "/token",
                "device_authorization_endpoint": u + "/device_authorization",
                "jwks_uri": u + "/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "grant_types_supported": ["authorization_code", DeviceCodeGrant.GRANT_TYPE],
            }
        )

    async def jwks(self, request: Request) -> Response:
        return JSONResponse(KeySet([self.key]).as_dict(private=False))

    async def authorize(self, request: Request) -> Response:
        req = await self._request(request)
        if request.method == "GET":
            try:
                self.server.get_consent_grant(req)
            except Exception as exc:  # an invalid request is shown, as a provider's page would
                return HTMLResponse(f"<p>invalid request: {html.escape(str(exc))}</p>", status_code=400)
            hidden = "".join(
                f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                for k, v in request.query_params.items()
            )
            return HTMLResponse(
                "<!doctype html><title>Test IdP</title><form method=post>"
                + hidden
                + '<label>Username <input name="username" id="username"></label>'
                + '<button type="submit" id="signin">Sign in</button></form>'
            )
        person = self.people.get(req.form.get("username", ""))
        if person is None:
            return HTMLResponse("<p>unknown user</p>", status_code=403)
        grant = self.server.get_consent_grant(req, end_user=person)
        result: Response = self.server.create_authorization_response(req, grant_user=person, grant=grant)
        return result

    async def token(self, request: Request) -> Response:
        result: Response = self.server.create_token_response(await self._request(request))
        return result

    async def device_authorization(self, request: Request) -> Response:
        result: Response = self.server.create_endpoint_response(
            DeviceAuthorizationEndpoint.ENDPOINT_NAME, await self._request(request)
        )
        return result

    async def device(self, request: Request) -> Response:
        req = await self._request(request)
        if request.method == "GET":
            code = html.escape(request.query_params.get("user_code", ""))
            return HTMLResponse(
                f'<form method=post><input name="user_code" value="{code}"><input name="username">'
                '<button type="submit">Approve</button></form>'
            )
        self.approve_device(req.form.get("user_code", ""), req.form.get("username", ""))
        return HTMLResponse("<p>approved; go back to your terminal</p>")

    def approve_device(self, user_code: str, username: str, approved: bool = True) -> None:
        self.device_grants[user_code] = (self.people[username], approved)

    def login_url(self, redirect_uri: str, **params: str) -> str:
        return self.url + "/authorize?" + urlencode({"redirect_uri": redirect_uri, **params})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery, methods=["GET"]),
                Route("/jwks", self.jwks, methods=["GET"]),
                Route("/authorize", self.authorize, methods=["GET", "POST"]),
                Route("/token", self.token, methods=["POST"]),
                Route("/device_authorization", self.device_authorization, methods=["POST"]),
                Route("/device", self.device, methods=["GET", "POST"]),
            ]
        )

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> Provider:
        config = serving.config(self.app(), "127.0.0.1", 0, log_level="warning", access_log=False)
        server = serving.Server(config)
        self._uvicorn = server
        errors: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(server.serve())
            except BaseException as exc:
                errors.append(exc)

        self._thread = threading.Thread(target=run, name="oidc-provider", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if errors or not self._thread.is_alive():
                raise RuntimeError(f"the OIDC provider did not start: {errors!r}")
            if time.monotonic() > deadline:
                raise RuntimeError("the OIDC provider did not start in time")
            time.sleep(0.02)
        port = next(s.getsockname()[1] for srv in server.servers for s in srv.sockets)
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(START_TIMEOUT)
        self._thread = None
