"""FastAPI integration: dependencies for API keys (``ApiKey``) and JWT access tokens with scopes
(``RequireScope``).

::

    from fastapi import Depends, FastAPI, Security
    from authgate import ScalekitClient, TokenInfo
    from authgate.fastapi import ApiKey, RequireScope, init_app

    client = ScalekitClient(env_url, client_id, client_secret)
    app = FastAPI()
    init_app(app, client)   # JSON bodies {"error": …}; lets ApiKey() / RequireScope("x") omit the client

    @app.get("/api/resources")
    async def resources(info: TokenInfo = Depends(ApiKey(client))):
        return {"org": info.organization_id}

    @app.post("/deploy")
    async def deploy(claims: dict = Security(RequireScope(client, "deploy:applications"))):
        return {"by": claims["sub"]}

``RequireScope`` also honours FastAPI's ``Security(..., scopes=[...])``.
``RequireOrganizationToken`` accepts any organization's token whatever its scopes, and refuses
the environment's own admin token. The dependencies declare an HTTP bearer security scheme, so the OpenAPI document (and Swagger UI's lock) shows it.

Answers come from the core's request policy, the same as Flask's, the server's and the Express
middleware's (``tests/vectors/middleware.json``): no credentials → 401 with
``WWW-Authenticate: Bearer realm="api"``; a malformed, oversize or rejected credential → 401
``error="invalid_token"``; valid token without the scopes → 403
``error="insufficient_scope", scope="…"``; keys or key service unreachable → 503 with
``Retry-After: 5``; an API key over its ``rate_limit`` → 429 with ``Retry-After: <seconds>``.
Bodies are ``{"error": …}`` once ``init_app`` installed the handler, FastAPI's ``{"detail": …}``
otherwise.

``ApiKey`` passes the request's address to the key check, so keys restricted to networks
(``allowed_cidrs``) work: the peer address (``request.client.host``) by default; behind a
reverse proxy, ``ApiKey(client, trusted_proxies=["10.0.0.0/8"])`` believes the
``X-Forwarded-For`` header of those proxies only (the core's rule, the same as the server's,
Flask's and Express's). Invalid entries raise ``ScalekitBadRequestException`` when the
dependency is created. (Uvicorn's own ``--forwarded-allow-ips`` rewrites ``request.client``
before this runs; use one or the other.)

The event loop is never blocked: a JWT is verified inline only when the keys are cached (pure
CPU, tens of microseconds); a key fetch and every API-key check (a network call or a store
lookup) run in a worker thread.
"""

from __future__ import annotations

import functools
from typing import Any, Dict, List, NoReturn, Optional, Sequence, Union

import anyio.to_thread
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes

from authgate import _policy
from authgate._native import JwtValidator, ScalekitClient, TokenInfo

__all__ = ["init_app", "ApiKey", "RequireScope", "RequireOrganizationToken", "AuthError", "bearer_scheme"]

Source = _policy.JwtSource

#: The security scheme both dependencies declare (``auto_error=False``: they answer themselves).
bearer_scheme = HTTPBearer(
    bearerFormat="API key or JWT",
    description="`Authorization: Bearer <API key or access token>`",
    auto_error=False,
)

_STATE_KEY = "authgate_client"


class AuthError(HTTPException):
    """Raised by the dependencies; rendered as ``{"error": detail}`` once ``init_app`` ran."""


async def _render(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AuthError)
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def init_app(app: FastAPI, client: Optional[Source] = None) -> None:
    """Installs the ``{"error": …}`` exception handler and, when given, binds ``client`` for
    dependencies created without one."""
    app.add_exception_handler(AuthError, _render)
    if client is not None:
        if not isinstance(client, (ScalekitClient, JwtValidator)):
            raise TypeError(f"init_app: expected a ScalekitClient or a JwtValidator, got {type(client).__name__}")
        setattr(app.state, _STATE_KEY, client)


def _bound(request: Request) -> Source:
    client = getattr(request.app.state, _STATE_KEY, None)
    if client is None:
        raise RuntimeError(
            "authgate: no client for this dependency; pass one (ApiKey(client)) or call "
            "authgate.fastapi.init_app(app, client)"
        )
    return client  # type: ignore[no-any-return]


def _raise(answer: _policy.Answer) -> NoReturn:
    status, body, headers = answer
    raise AuthError(status_code=status, detail=str(body["error"]), headers=headers)


def _token(request: Request, realm: Optional[str]) -> str:
    """The request's bearer token by the core's rule (read from the raw header: the security
    scheme's parsing is only there for the OpenAPI document)."""
    token = _policy.bearer_token(request.headers.get("authorization"), realm)
    if not isinstance(token, str):
        _raise(token)
    return token


class ApiKey:
    """Dependency: requires a valid API key; returns its ``TokenInfo`` (also stored in
    ``request.state.token_info``). The check runs in a worker thread.

    The request's address goes with the check (keys with ``allowed_cidrs``): the peer's, or,
    when the peer is one of ``trusted_proxies`` (networks such as ``"10.0.0.0/8"``; default
    none), the nearest ``X-Forwarded-For`` entry that is not a trusted proxy."""

    def __init__(
        self,
        client: Optional[ScalekitClient] = None,
        *,
        realm: Optional[str] = _policy.DEFAULT_REALM,
        trusted_proxies: Optional[Sequence[str]] = None,
    ) -> None:
        if client is not None and not isinstance(client, ScalekitClient):
            raise TypeError(f"ApiKey: expected a ScalekitClient, got {type(client).__name__}")
        self.client = client
        self.realm = realm
        self.trusted_proxies = _policy.trusted_proxies(trusted_proxies, "ApiKey")

    async def __call__(
        self,
        request: Request,
        credentials: Optional[HTTPAuthorizationCredentials] = Depends(bearer_scheme),  # for OpenAPI
    ) -> TokenInfo:
        token = _token(request, self.realm)
        client = self.client if self.client is not None else _bound(request)
        if not isinstance(client, ScalekitClient):
            raise TypeError("ApiKey needs a ScalekitClient (API keys are validated by the key service)")
        peer = request.client.host if request.client is not None else None
        client_ip = _policy.request_address(peer, request.headers.getlist("x-forwarded-for"), self.trusted_proxies)
        validate = functools.partial(client.tokens.validate_token, token, client_ip=client_ip)
        try:
            result = await anyio.to_thread.run_sync(validate)
        except Exception as error:  # noqa: BLE001 - mapped or re-raised below
            answer = _policy.answer_for(error, self.realm) or _policy.fault_answer(error, "API key")
            if answer is None:
                raise
            _raise(answer)
        request.state.token_info = result.token_info
        return result.token_info


class RequireScope:
    """Dependency: requires a valid JWT access token carrying ``scopes`` (all, or with
    ``any=True`` at least one, plus any given through ``Security(..., scopes=[...])``); returns
    the verified claims (``dict``, also in ``request.state.token_claims``).

    ``RequireScope(client, "a", "b")`` or, with a client bound by ``init_app``,
    ``RequireScope("a", "b")``. ``client`` is a ``ScalekitClient`` or any ``JwtValidator``. At
    least one scope is required: an empty or non-string scope is a ``TypeError`` when the
    dependency is created; ``RequireScope(client)`` with no ``Security(..., scopes=[...])``
    either (FastAPI gives those scopes only per request) answers every request 500 with one log
    line, never accepting a token for lack of scopes.

    A misconfigured client (credentials refused by the environment…) is answered 500 with one
    log line, not a traceback; check it at start-up with ``client.check()``."""

    def __init__(
        self,
        client: Union[Source, str, None] = None,
        *scopes: str,
        any: bool = False,  # noqa: A002 - the documented name
        realm: Optional[str] = _policy.DEFAULT_REALM,
    ) -> None:
        if isinstance(client, str):
            scopes = (client, *scopes)
            client = None
        if client is not None and not isinstance(client, (ScalekitClient, JwtValidator)):
            raise TypeError(f"RequireScope: expected a ScalekitClient or a JwtValidator, got {type(client).__name__}")
        # At definition time: no scope would accept any token of the environment (admin included).
        # Scopes may still come from ``Security(..., scopes=[...])``, known only per request: an
        # empty list is then refused there (fail closed).
        if scopes:
            _policy.require_scopes_given(scopes, "RequireScope")
        self.client: Optional[Source] = client
        self.scopes = list(scopes)
        self.any = any
        self.realm = realm

    async def __call__(
        self,
        request: Request,
        security_scopes: SecurityScopes,
        credentials: Optional[HTTPAuthorizationCredentials] = Depends(bearer_scheme),  # for OpenAPI
    ) -> Dict[str, Any]:
        token = _token(request, self.realm)
        required = self.scopes + [s for s in security_scopes.scopes if s not in self.scopes]
        if not required:
            # Neither RequireScope(...) nor Security(..., scopes=[...]) named a scope.
            _policy.logger.error(
                "authgate: RequireScope() without scopes on %s: refused (give scopes to RequireScope or Security)",
                request.url.path,
            )
            _raise((500, {"error": _policy.FAULT}, {}))
        validator = _policy.jwt_validator(self.client if self.client is not None else _bound(request))
        return await _verify_jwt(request, validator, token, self.realm, required, any=self.any)


async def _verify_jwt(
    request: Request,
    validator: JwtValidator,
    token: str,
    realm: Optional[str],
    required: List[str],
    *,
    any: bool = False,  # noqa: A002 - the validator's name
    organization: bool = False,
) -> Dict[str, Any]:
    """Verifies ``token`` (on this thread when its key is cached, else in a worker thread) against
    ``required`` scopes and, with ``organization``, requires an organization's token; stores and
    returns the claims, or raises the answer."""
    check = functools.partial(validator.validate, token, required, any=any, organization=organization)
    try:
        claims = validator.try_validate(token, required, any=any, organization=organization)
        if claims is None:
            # Keys must be fetched: wait for them off the event loop.
            claims = await anyio.to_thread.run_sync(check)
    except Exception as error:  # noqa: BLE001 - mapped or re-raised below
        answer = _policy.answer_for(error, realm) or _policy.fault_answer(error, "access token")
        if answer is None:
            raise
        _raise(answer)
    request.state.token_claims = claims
    return claims


class RequireOrganizationToken:
    """Dependency: requires a valid JWT access token issued to one of the environment's
    organizations, whatever its scopes; returns the verified claims (also in
    ``request.state.token_claims``). The environment's own admin token (no ``oid`` claim) is
    refused with 403 ``insufficient_scope``. For routes open to every customer machine; use
    ``RequireScope`` when a scope decides. ``client`` is a ``ScalekitClient`` or any
    ``JwtValidator`` (default: the one bound by ``init_app``)."""

    def __init__(self, client: Optional[Source] = None, *, realm: Optional[str] = _policy.DEFAULT_REALM) -> None:
        if client is not None and not isinstance(client, (ScalekitClient, JwtValidator)):
            raise TypeError(
                f"RequireOrganizationToken: expected a ScalekitClient or a JwtValidator, got {type(client).__name__}"
            )
        self.client: Optional[Source] = client
        self.realm = realm

    async def __call__(
        self,
        request: Request,
        credentials: Optional[HTTPAuthorizationCredentials] = Depends(bearer_scheme),  # for OpenAPI
    ) -> Dict[str, Any]:
        token = _token(request, self.realm)
        validator = _policy.jwt_validator(self.client if self.client is not None else _bound(request))
        return await _verify_jwt(request, validator, token, self.realm, [], organization=True)
