"""The request policy of the Flask and FastAPI adapters, from the core (``authgate._native``):
the bearer rule and the HTTP answer (status, JSON body, ``WWW-Authenticate``, ``Retry-After``) to
a rejected request — the same as the server's and the Express middleware's, pinned by
``tests/vectors/middleware.json``. The adapters keep only framework glue."""

from __future__ import annotations

import logging
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

from authgate._native import (
    JwtValidator,
    ScalekitClient,
    check_bearer,
    client_address,
    http_answer,
    parse_networks,
)
from authgate.errors import ScalekitException

__all__ = [
    "Answer",
    "JwtSource",
    "DEFAULT_REALM",
    "FAULT",
    "bearer_token",
    "answer_for",
    "trusted_proxies",
    "request_address",
    "fault_answer",
    "jwt_validator",
    "require_scopes_given",
]

logger = logging.getLogger("authgate")

#: What the JWT adapters accept: a client (its environment's keys and issuer) or any validator.
JwtSource = Union[ScalekitClient, JwtValidator]

#: ``(status, body, headers)``: what an adapter answers.
Answer = Tuple[int, Dict[str, str], Dict[str, str]]

#: The ``realm`` of the challenges unless the app configures another (the same in Node).
DEFAULT_REALM = "api"

#: Body ``error`` of the 500 answering a request the client could not check because it is
#: misconfigured (the same in Node).
FAULT = "Authentication is misconfigured on the server"


def bearer_token(authorization: Optional[str], realm: Optional[str]) -> Union[str, Answer]:
    """The bearer token of an ``Authorization`` header value, or the answer refusing the request
    (no credentials, or a malformed or oversize token)."""
    return check_bearer(authorization, realm)


def answer_for(error: BaseException, realm: Optional[str]) -> Optional[Answer]:
    """The HTTP answer for an exception raised while checking a credential, or ``None`` when it
    is not an authentication outcome (a bug or misconfiguration, to propagate as a 500)."""
    if not isinstance(error, ScalekitException):
        return None
    status = getattr(error, "http_status", None)
    missing = getattr(error, "missing_scopes", None) or []
    retry_after = getattr(error, "retry_after", None)
    return http_answer(
        error.code,
        status if isinstance(status, int) else None,
        list(missing),
        realm,
        retry_after if isinstance(retry_after, int) else None,
    )


def trusted_proxies(entries: Optional[Iterable[str]], where: str) -> List[str]:
    """An adapter's ``trusted_proxies`` setting, checked when the adapter is configured: the
    networks (``"10.0.0.0/8"``, ``"2001:db8::/32"`` or bare addresses) of the proxies whose
    ``X-Forwarded-For`` is believed, in canonical form. ``None`` = none (the peer address only).
    A bare string is a ``TypeError`` (a list is expected); an entry that is not a network is a
    ``ScalekitBadRequestException`` naming it."""
    if entries is None:
        return []
    if isinstance(entries, (str, bytes)):
        raise TypeError(f"{where}: trusted_proxies must be a list of networks, not a single string")
    return parse_networks(list(entries), "trusted_proxies")


def request_address(peer: Optional[str], forwarded_for: Sequence[str], trusted: Sequence[str]) -> Optional[str]:
    """The address a request comes from, by the core's rule: the peer, or, when the peer is a
    trusted proxy, the nearest ``X-Forwarded-For`` entry that is not one. ``None`` when the peer
    is not an IP address (a Unix socket, a test client)."""
    return client_address(peer, list(forwarded_for) if trusted else [], list(trusted))


def jwt_validator(source: JwtSource) -> JwtValidator:
    """The validator behind a client or validator."""
    if isinstance(source, JwtValidator):
        return source
    if isinstance(source, ScalekitClient):
        return source.jwt_validator()
    raise TypeError(f"expected a ScalekitClient or a JwtValidator, got {type(source).__name__}")


def fault_answer(error: BaseException, what: str) -> Optional[Answer]:
    """The 500 answer, with one ``ERROR`` log line naming the cause (never a secret), for an
    authgate error that is no verdict on the request's credential: the client is misconfigured
    (its credentials refused by the environment, a bad option…). ``None`` for anything else (a
    bug: let it propagate). Unreachable keys or key service are not faults: they get the 503 of
    :func:`answer_for`. Check the client at start-up with ``client.check()``."""
    if not isinstance(error, ScalekitException):
        return None
    logger.error(
        "authgate: cannot check the %s: %s: %s (misconfigured client? run client.check() at start-up)",
        what,
        error.code,
        error,
    )
    return (500, {"error": FAULT}, {})


def require_scopes_given(scopes: Sequence[object], where: str) -> None:
    """The definition-time rule of ``require_scope`` / ``RequireScope`` (the same as Node's
    ``requireScope``): at least one scope, each a non-empty string. With no scope the route would
    accept every valid token of the environment — the environment's admin token and any
    organization's M2M token alike — so an empty list is refused when the route is defined."""
    if not scopes:
        raise TypeError(
            f"{where}: at least one scope is required; a route without scopes would accept any token of "
            "the environment, its admin token included"
        )
    for scope in scopes:
        if not isinstance(scope, str) or not scope:
            raise TypeError(f"{where}: scopes must be non-empty strings, got {scope!r}")
