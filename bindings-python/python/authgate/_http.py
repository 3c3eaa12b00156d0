"""Framework-neutral HTTP pieces shared by the Flask and FastAPI adapters: bearer-token
extraction and the RFC 6750 answers (status, JSON body, headers) for each failure."""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple, Union

from authgate._native import JwtValidator, ScalekitClient
from authgate.errors import (
    ScalekitGatewayTimeoutException,
    ScalekitInsufficientScopeException,
    ScalekitKeysUnavailableException,
    ScalekitServiceUnavailableException,
    ScalekitValidateTokenFailureException,
)

#: What the JWT adapters accept: a client (its environment's keys and issuer) or any validator.
JwtSource = Union[ScalekitClient, JwtValidator]

#: Seconds a client is told to wait after a 503.
RETRY_AFTER = "5"

MISSING = "Missing authorization token"
INVALID = "Invalid or expired token"
FORBIDDEN = "Insufficient permissions"
UNAVAILABLE = "Authentication service unavailable"

Answer = Tuple[int, Dict[str, object], Dict[str, str]]


def bearer_token(authorization: Optional[str]) -> Optional[str]:
    """The token of an ``Authorization: Bearer <token>`` header (scheme case-insensitive), or
    ``None`` when the header is absent, uses another scheme, or carries no token."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    if not token or " " in token:
        return None
    return token


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _challenge(realm: Optional[str], **params: str) -> str:
    items = []
    if realm:
        items.append(f"realm={_quote(realm)}")
    items.extend(f"{name}={_quote(value)}" for name, value in params.items())
    return "Bearer" + (" " + ", ".join(items) if items else "")


def missing(realm: Optional[str]) -> Answer:
    """401 without an error code: the request carried no credentials (RFC 6750 §3.1)."""
    return 401, {"error": MISSING}, {"WWW-Authenticate": _challenge(realm)}


def invalid(realm: Optional[str]) -> Answer:
    """401 ``invalid_token``: the credential was rejected (the reason is not disclosed)."""
    header = _challenge(realm, error="invalid_token", error_description=INVALID)
    return 401, {"error": INVALID}, {"WWW-Authenticate": header}


def forbidden(realm: Optional[str], scopes: Sequence[str]) -> Answer:
    """403 ``insufficient_scope``, naming the scopes the route requires."""
    params = {"error": "insufficient_scope", "error_description": FORBIDDEN}
    if scopes:
        params["scope"] = " ".join(scopes)
    return 403, {"error": FORBIDDEN}, {"WWW-Authenticate": _challenge(realm, **params)}


def unavailable() -> Answer:
    """503: keys or the key service could not be reached; no verdict on the credential."""
    return 503, {"error": UNAVAILABLE}, {"Retry-After": RETRY_AFTER}


def answer_for(error: BaseException, realm: Optional[str], scopes: Sequence[str]) -> Optional[Answer]:
    """The HTTP answer for an exception raised while checking a credential, or ``None`` when it
    is not an authentication outcome (a bug or misconfiguration, to propagate as a 500)."""
    if isinstance(error, ScalekitInsufficientScopeException):
        return forbidden(realm, scopes)
    if isinstance(error, ScalekitValidateTokenFailureException):
        return invalid(realm)
    if isinstance(
        error,
        (ScalekitKeysUnavailableException, ScalekitServiceUnavailableException, ScalekitGatewayTimeoutException),
    ):
        return unavailable()
    return None


def jwt_validator(source: JwtSource) -> JwtValidator:
    """The validator behind a client or validator."""
    if isinstance(source, JwtValidator):
        return source
    if isinstance(source, ScalekitClient):
        return source.jwt_validator()
    raise TypeError(f"expected a ScalekitClient or a JwtValidator, got {type(source).__name__}")
