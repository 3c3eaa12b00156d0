"""Framework-neutral HTTP pieces shared by the Flask and FastAPI adapters: bearer-token
extraction and the RFC 6750 answers (status, JSON body, headers) for each failure."""

from __future__ import annotations

from typing import Dict, Optional, Tuple, Union

from authgate._native import JwtValidator, ScalekitClient
from authgate.errors import (
    ScalekitGatewayTimeoutException,
    ScalekitInsufficientScopeException,
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


def _with_realm(challenge: Optional[str], realm: Optional[str]) -> str:
    """A ``Bearer`` challenge with the configured realm first (RFC 6750 §3). ``challenge`` is the
    core's text (``Bearer error="…", …``), shared with the server and the Node middleware."""
    challenge = challenge or "Bearer"
    if not realm:
        return challenge
    realm = "".join(c for c in realm if c == " " or c == "!" or "#" <= c <= "[" or "]" <= c <= "~")
    rest = challenge[len("Bearer") :].strip()
    return f'Bearer realm="{realm}"' + (f", {rest}" if rest else "")


def missing(realm: Optional[str]) -> Answer:
    """401 without an error code: the request carried no credentials (RFC 6750 §3.1)."""
    return 401, {"error": MISSING}, {"WWW-Authenticate": _with_realm(None, realm)}


def invalid(realm: Optional[str], error: ScalekitValidateTokenFailureException) -> Answer:
    """401 ``invalid_token``: the credential was rejected."""
    return 401, {"error": INVALID}, {"WWW-Authenticate": _with_realm(error.www_authenticate, realm)}


def forbidden(realm: Optional[str], error: ScalekitInsufficientScopeException) -> Answer:
    """403 ``insufficient_scope``, naming the scopes the token lacks."""
    return 403, {"error": FORBIDDEN}, {"WWW-Authenticate": _with_realm(error.www_authenticate, realm)}


def unavailable() -> Answer:
    """503: keys or the key service could not be reached; no verdict on the credential."""
    return 503, {"error": UNAVAILABLE}, {"Retry-After": RETRY_AFTER}


def answer_for(error: BaseException, realm: Optional[str]) -> Optional[Answer]:
    """The HTTP answer for an exception raised while checking a credential, or ``None`` when it
    is not an authentication outcome (a bug or misconfiguration, to propagate as a 500)."""
    if isinstance(error, ScalekitInsufficientScopeException):
        return forbidden(realm, error)
    if isinstance(error, ScalekitValidateTokenFailureException):
        return invalid(realm, error)
    # Includes ScalekitKeysUnavailableException, a ScalekitServiceUnavailableException.
    if isinstance(error, (ScalekitServiceUnavailableException, ScalekitGatewayTimeoutException)):
        return unavailable()
    return None


def jwt_validator(source: JwtSource) -> JwtValidator:
    """The validator behind a client or validator."""
    if isinstance(source, JwtValidator):
        return source
    if isinstance(source, ScalekitClient):
        return source.jwt_validator()
    raise TypeError(f"expected a ScalekitClient or a JwtValidator, got {type(source).__name__}")
