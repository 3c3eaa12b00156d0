"""Flask integration: ``authenticate_token`` for API keys and ``require_scope`` for JWT access
tokens, named after the documented samples.

Bind a client once, then use the decorators bare::

    from authgate import ScalekitClient
    from authgate.flask import authenticate_token, init_app, require_scope

    app = Flask(__name__)
    init_app(app, ScalekitClient(env_url, client_id, client_secret))  # or app.config["AUTHGATE_CLIENT"]

    @app.route("/api/resources")
    @authenticate_token
    def resources():
        return {"org": g.token_info.organization_id}   # a TokenInfo

    @app.route("/deploy", methods=["POST"])
    @require_scope("deploy:applications")
    def deploy():
        return {"by": g.token_claims["sub"]}           # the verified claims (dict)

or pass the client explicitly: ``@authenticate_token(client=client)``,
``@require_scope("a", "b", any=True, client=validator)`` (a ``ScalekitClient`` or any
``JwtValidator``, e.g. for Auth0 or Keycloak tokens). ``@require_organization_token`` accepts
any organization's token whatever its scopes, and refuses the environment's own admin token.

Answers come from the core's request policy, the same as the server's and the Express
middleware's (``tests/vectors/middleware.json``), with JSON bodies ``{"error": …}``: no
credentials → 401 with ``WWW-Authenticate: Bearer realm="api"``; a malformed, oversize or
rejected credential → 401 ``error="invalid_token"``; valid token without the scopes → 403
``error="insufficient_scope", scope="…"``; keys or key service unreachable → 503 with
``Retry-After: 5``; an API key over its ``rate_limit`` → 429 with ``Retry-After: <seconds>``.
The token is always verified before scopes are checked. The realm is
``app.config["AUTHGATE_REALM"]`` (default ``"api"``).

``authenticate_token`` passes the request's address to the key check, so keys restricted to
networks (``allowed_cidrs``) work: the peer address (``request.remote_addr``) by default; behind
a reverse proxy, name the proxies whose ``X-Forwarded-For`` is believed with
``init_app(app, client, trusted_proxies=["10.0.0.0/8"])`` (or
``app.config["AUTHGATE_TRUSTED_PROXIES"]``, or ``@authenticate_token(trusted_proxies=[…])``).
The address is then the nearest ``X-Forwarded-For`` entry that is not a trusted proxy (the
core's rule, the same as the server's and Express's). Invalid entries raise
``ScalekitBadRequestException`` when the app or decorator is configured.

Validation is synchronous: JWTs on cached keys cost tens of microseconds with the GIL held; API
keys (remote or store lookups) and key fetches release the GIL while they wait.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Awaitable, Callable, List, Optional, Sequence, TypeVar, Union, cast, overload

from flask import Flask, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from authgate import _policy
from authgate._native import JwtValidator, ScalekitClient

__all__ = [
    "init_app",
    "authenticate_token",
    "require_scope",
    "require_organization_token",
    "EXTENSION_KEY",
    "CONFIG_KEY",
    "REALM_KEY",
    "TRUSTED_PROXIES_KEY",
]

#: ``app.extensions`` key ``init_app`` binds the client under.
EXTENSION_KEY = "authgate"
#: ``app.config`` key read when ``init_app`` was not called.
CONFIG_KEY = "AUTHGATE_CLIENT"
#: ``app.config`` key for the ``realm`` of ``WWW-Authenticate`` challenges (default ``"api"``).
REALM_KEY = "AUTHGATE_REALM"
#: ``app.config`` key for the networks of the reverse proxies whose ``X-Forwarded-For`` is
#: believed (default: none, the peer address only).
TRUSTED_PROXIES_KEY = "AUTHGATE_TRUSTED_PROXIES"
#: ``app.extensions`` key of the trusted proxies checked by ``init_app``.
_PROXIES_EXTENSION = "authgate.trusted_proxies"

Source = _policy.JwtSource
F = TypeVar("F", bound=Callable[..., Any])


def init_app(app: Flask, client: Source, *, trusted_proxies: Optional[Sequence[str]] = None) -> None:
    """Binds ``client`` to ``app`` for the bare decorators. ``trusted_proxies`` (default
    ``app.config["AUTHGATE_TRUSTED_PROXIES"]``, else none): the networks of the reverse proxies
    whose ``X-Forwarded-For`` header ``authenticate_token`` believes; checked here (an invalid
    entry raises ``ScalekitBadRequestException``)."""
    if not isinstance(client, (ScalekitClient, JwtValidator)):
        raise TypeError(f"init_app: expected a ScalekitClient or a JwtValidator, got {type(client).__name__}")
    if trusted_proxies is None:
        trusted_proxies = app.config.get(TRUSTED_PROXIES_KEY)
    proxies = _policy.trusted_proxies(trusted_proxies, "init_app")
    app.extensions[EXTENSION_KEY] = client
    app.extensions[_PROXIES_EXTENSION] = proxies


def _bound() -> Source:
    client = current_app.extensions.get(EXTENSION_KEY) or current_app.config.get(CONFIG_KEY)
    if client is None:
        raise RuntimeError(
            "authgate: no client bound to this Flask app; call authgate.flask.init_app(app, client), "
            f"set app.config[{CONFIG_KEY!r}], or pass client= to the decorator"
        )
    return cast(Source, client)


def _realm() -> Optional[str]:
    realm = current_app.config.get(REALM_KEY, _policy.DEFAULT_REALM)
    return str(realm) if realm else None


def _respond(answer: _policy.Answer) -> ResponseReturnValue:
    status, body, headers = answer
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers)
    return response


def _wrap(view: F, check: Callable[[], Optional[ResponseReturnValue]]) -> F:
    """Runs ``check`` before ``view``; a non-``None`` result is returned instead of the view's.
    Async views (``flask[async]``) stay async."""
    if inspect.iscoroutinefunction(view):

        @functools.wraps(view)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            denied = check()
            if denied is not None:
                return denied
            return await cast(Callable[..., Awaitable[Any]], view)(*args, **kwargs)

        return cast(F, async_wrapper)

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        denied = check()
        if denied is not None:
            return denied
        return view(*args, **kwargs)

    return cast(F, wrapper)


def _guard(verify: Callable[[str], None], what: str) -> Callable[[], Optional[ResponseReturnValue]]:
    """A check answering for a missing or rejected bearer credential; ``verify`` raises when it
    rejects the token and records what it learned in ``g``. An authgate error that is no verdict
    (a misconfigured client) is a 500 with one log line naming ``what`` could not be checked."""

    def check() -> Optional[ResponseReturnValue]:
        realm = _realm()
        token = _policy.bearer_token(request.headers.get("Authorization"), realm)
        if not isinstance(token, str):
            return _respond(token)
        try:
            verify(token)
        except Exception as error:  # noqa: BLE001 - mapped or re-raised below
            answer = _policy.answer_for(error, realm) or _policy.fault_answer(error, what)
            if answer is None:
                raise
            return _respond(answer)
        return None

    return check


def _trusted_proxies() -> List[str]:
    """The app's trusted proxies: those ``init_app`` checked, else the config key's."""
    checked = current_app.extensions.get(_PROXIES_EXTENSION)
    if checked is not None:
        return cast(List[str], checked)
    return _policy.trusted_proxies(current_app.config.get(TRUSTED_PROXIES_KEY), TRUSTED_PROXIES_KEY)


def _client_ip(trusted: Optional[List[str]]) -> Optional[str]:
    """The request's address by the core's rule (peer, or ``X-Forwarded-For`` from a trusted proxy)."""
    proxies = trusted if trusted is not None else _trusted_proxies()
    return _policy.request_address(request.remote_addr, request.headers.getlist("X-Forwarded-For"), proxies)


def _api_key_check(
    client: Optional[ScalekitClient], trusted: Optional[List[str]]
) -> Callable[[], Optional[ResponseReturnValue]]:
    def verify(token: str) -> None:
        source = client if client is not None else _bound()
        if not isinstance(source, ScalekitClient):
            raise TypeError("authenticate_token needs a ScalekitClient (API keys are validated by the key service)")
        g.token_info = source.tokens.validate_token(token, client_ip=_client_ip(trusted)).token_info

    return _guard(verify, "API key")


@overload
def authenticate_token(
    view: F, *, client: Optional[ScalekitClient] = None, trusted_proxies: Optional[Sequence[str]] = None
) -> F: ...
@overload
def authenticate_token(
    view: None = None, *, client: Optional[ScalekitClient] = None, trusted_proxies: Optional[Sequence[str]] = None
) -> Callable[[F], F]: ...


def authenticate_token(
    view: Optional[F] = None,
    *,
    client: Optional[ScalekitClient] = None,
    trusted_proxies: Optional[Sequence[str]] = None,
) -> Union[F, Callable[[F], F]]:
    """Requires a valid API key (``Authorization: Bearer <key>``); sets ``g.token_info``
    (a ``TokenInfo``: ``organization_id``, ``user_id`` for user-scoped keys, ``custom_claims``,
    ``roles``…). Use bare (``@authenticate_token``) with a bound client, or
    ``@authenticate_token(client=client)``.

    The request's address is passed to the check (keys with ``allowed_cidrs``): the peer's, or
    with ``trusted_proxies`` (default: the app's, see ``init_app``) the ``X-Forwarded-For``
    entry a trusted proxy appended. A key over its ``rate_limit`` is answered 429 with
    ``Retry-After``."""
    trusted = None if trusted_proxies is None else _policy.trusted_proxies(trusted_proxies, "authenticate_token")

    def decorate(f: F) -> F:
        return _wrap(f, _api_key_check(client, trusted))

    return decorate(view) if view is not None else decorate


def _scope_check(
    scopes: Sequence[str], any_scope: bool, client: Optional[Source], organization: bool = False
) -> Callable[[], Optional[ResponseReturnValue]]:
    required = list(scopes)

    def verify(token: str) -> None:
        validator = _policy.jwt_validator(client if client is not None else _bound())
        g.token_claims = validator.validate(token, required, any=any_scope, organization=organization)

    return _guard(verify, "access token")


def require_scope(*scopes: str, any: bool = False, client: Optional[Source] = None) -> Callable[[F], F]:  # noqa: A002
    """Requires a valid JWT access token carrying ``scopes`` (all of them, or with ``any=True``
    at least one); sets ``g.token_claims`` (the verified claims, a ``dict``). At least one scope
    is required: ``@require_scope`` bare or ``@require_scope()`` raises ``TypeError`` when the
    route is defined (a route without scopes would accept any token of the environment, its
    admin token included)."""
    if len(scopes) == 1 and callable(scopes[0]) and not isinstance(scopes[0], str):
        _policy.require_scopes_given((), "require_scope")
    _policy.require_scopes_given(scopes, "require_scope")

    def decorate(f: F) -> F:
        return _wrap(f, _scope_check(scopes, any, client))

    return decorate


@overload
def require_organization_token(view: F, *, client: Optional[Source] = None) -> F: ...
@overload
def require_organization_token(view: None = None, *, client: Optional[Source] = None) -> Callable[[F], F]: ...


def require_organization_token(view: Optional[F] = None, *, client: Optional[Source] = None) -> Union[F, Callable[[F], F]]:
    """Requires a valid JWT access token issued to one of the environment's organizations,
    whatever its scopes; sets ``g.token_claims``. The environment's own admin token (no ``oid``
    claim) is refused with 403 ``insufficient_scope``. For routes open to every customer
    machine; use ``require_scope`` when a scope decides. Bare with a bound client, or
    ``@require_organization_token(client=client)``."""

    def decorate(f: F) -> F:
        return _wrap(f, _scope_check((), False, client, organization=True))

    return decorate(view) if view is not None else decorate
