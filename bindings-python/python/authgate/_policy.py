"""The request policy of the Flask and FastAPI adapters, from the core (``authgate._native``):
the bearer rule and the HTTP answer (status, JSON body, ``WWW-Authenticate``, ``Retry-After``) to
a rejected request — the same as the server's and the Express middleware's, pinned by
``tests/vectors/middleware.json``. The adapters keep only framework glue."""

from __future__ import annotations

from typing import Dict, Optional, Tuple, Union

from authgate._native import JwtValidator, ScalekitClient, check_bearer, http_answer
from authgate.errors import ScalekitException

__all__ = ["Answer", "JwtSource", "DEFAULT_REALM", "bearer_token", "answer_for", "jwt_validator"]

#: What the JWT adapters accept: a client (its environment's keys and issuer) or any validator.
JwtSource = Union[ScalekitClient, JwtValidator]

#: ``(status, body, headers)``: what an adapter answers.
Answer = Tuple[int, Dict[str, str], Dict[str, str]]

#: The ``realm`` of the challenges unless the app configures another (the same in Node).
DEFAULT_REALM = "api"


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
    return http_answer(error.code, status if isinstance(status, int) else None, list(missing), realm)


def jwt_validator(source: JwtSource) -> JwtValidator:
    """The validator behind a client or validator."""
    if isinstance(source, JwtValidator):
        return source
    if isinstance(source, ScalekitClient):
        return source.jwt_validator()
    raise TypeError(f"expected a ScalekitClient or a JwtValidator, got {type(source).__name__}")
