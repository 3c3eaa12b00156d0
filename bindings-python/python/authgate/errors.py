"""Exceptions raised by authgate.

The hierarchy and names mirror the official Scalekit Python SDK
(``scalekit.common.exceptions``), so ``except`` clauses written for it keep working::

    ScalekitException
    ├── ScalekitValidateTokenFailureException      API key or JWT rejected (answer 401)
    │   └── ScalekitInsufficientScopeException     valid JWT, missing scopes (answer 403)
    └── ScalekitServerException                    .http_status .grpc_status .error_code .message
        ├── ScalekitBadRequestException            (also a ValueError)
        ├── ScalekitUnauthorizedException
        ├── ScalekitForbiddenException
        ├── ScalekitNotFoundException
        ├── ScalekitConflictException
        ├── ScalekitTooManyRequestsException
        │   └── ScalekitRateLimitedException       API key over its rate_limit (answer 429, .retry_after)
        ├── ScalekitCancelledException
        ├── ScalekitInternalServerException
        ├── ScalekitNotImplementedException
        ├── ScalekitServiceUnavailableException
        │   └── ScalekitKeysUnavailableException   JWKS unreachable (answer 503, never 401)
        ├── ScalekitGatewayTimeoutException
        └── ScalekitUnknownException

Every exception carries ``.code``: the stable snake_case code of the Rust core
(``token_expired``, ``not_found``, ``insufficient_scope``, …), identical in the Node package
and in the HTTP API's ``details[].error_code``. Messages never contain a secret.
"""

from __future__ import annotations

import enum
from http import HTTPStatus
from typing import List, Optional, Sequence, Type, TypeVar, Union

__all__ = [
    "GrpcStatusCode",
    "ScalekitException",
    "ScalekitValidateTokenFailureException",
    "ScalekitInsufficientScopeException",
    "ScalekitServerException",
    "ScalekitBadRequestException",
    "ScalekitUnauthorizedException",
    "ScalekitForbiddenException",
    "ScalekitNotFoundException",
    "ScalekitConflictException",
    "ScalekitTooManyRequestsException",
    "ScalekitRateLimitedException",
    "ScalekitCancelledException",
    "ScalekitInternalServerException",
    "ScalekitNotImplementedException",
    "ScalekitServiceUnavailableException",
    "ScalekitKeysUnavailableException",
    "ScalekitGatewayTimeoutException",
    "ScalekitUnknownException",
]


class GrpcStatusCode(enum.IntEnum):
    """gRPC status codes (the ``code`` of a Scalekit REST error body)."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class ScalekitException(Exception):
    """Base class of every authgate exception."""

    code: str
    """Stable snake_case code of the failure (shared with the Rust core and the Node package)."""

    def __init__(self, error: object = "", code: str = "unknown") -> None:
        super().__init__(error)
        self.code = code


class ScalekitValidateTokenFailureException(ScalekitException):
    """An API key or an access token was rejected: unknown, malformed, expired, revoked, bad
    signature, wrong issuer/audience… (``.code`` says which for JWTs; API keys deliberately
    report one code, ``token_validation_failed``). Web handlers answer 401."""

    www_authenticate: Optional[str]
    """The RFC 6750 ``WWW-Authenticate`` challenge for this rejection (without a realm), as the
    server and the Node middleware send it."""

    def __init__(
        self,
        error: object = "",
        code: str = "token_validation_failed",
        www_authenticate: Optional[str] = None,
    ) -> None:
        super().__init__(error, code)
        self.www_authenticate = www_authenticate


class ScalekitInsufficientScopeException(ScalekitValidateTokenFailureException):
    """The access token is valid but lacks required scopes. Web handlers answer 403 with
    ``WWW-Authenticate: Bearer error="insufficient_scope"``.

    A subclass of :class:`ScalekitValidateTokenFailureException`, as in the official SDK where a
    scope failure raises that exception."""

    missing_scopes: List[str]
    """The required scopes the token does not carry."""

    def __init__(
        self,
        error: object = "",
        code: str = "insufficient_scope",
        missing_scopes: Optional[Sequence[str]] = None,
        www_authenticate: Optional[str] = None,
    ) -> None:
        super().__init__(error, code, www_authenticate)
        self.missing_scopes = list(missing_scopes or [])


_Status = TypeVar("_Status", HTTPStatus, GrpcStatusCode)


def _member(kind: Type[_Status], value: int) -> Union[_Status, int]:
    """The member of ``kind`` with this value, or the value itself when it is not a standard one."""
    try:
        return kind(value)
    except ValueError:
        return value


class ScalekitServerException(ScalekitException):
    """The service (remote server, or the embedded authority) refused or failed a request."""

    def __init__(
        self,
        error: object = "",
        code: str = "server_error",
        http_status: int = 500,
        grpc_status: int = GrpcStatusCode.UNKNOWN,
        error_code: Optional[str] = None,
    ) -> None:
        super().__init__(error, code)
        self._message = str(error)
        self._http_status = _member(HTTPStatus, http_status)
        self._grpc_status = _member(GrpcStatusCode, grpc_status)
        self._error_code = error_code if error_code is not None else code

    @property
    def http_status(self) -> Union[HTTPStatus, int]:
        """HTTP status (an ``http.HTTPStatus`` member when it is a standard one)."""
        return self._http_status

    @property
    def grpc_status(self) -> Union[GrpcStatusCode, int]:
        """gRPC status code."""
        return self._grpc_status

    @property
    def error_code(self) -> str:
        """The server's error code (``details[].error_code``); authgate's own ``.code`` otherwise."""
        return self._error_code

    @property
    def message(self) -> str:
        """Human-readable message."""
        return self._message

    @property
    def err_details(self) -> str:
        """Alias of :attr:`message`, for code written against the official SDK."""
        return self._message


class ScalekitBadRequestException(ScalekitServerException, ValueError):
    """Invalid argument or failed precondition (400). Also a ``ValueError``: the official SDK
    raises ``ValueError`` for some bad arguments it checks locally."""


class ScalekitUnauthorizedException(ScalekitServerException):
    """The SDK's own credentials were refused (401), e.g. a wrong client secret."""


class ScalekitForbiddenException(ScalekitServerException):
    """Permission denied (403)."""


class ScalekitNotFoundException(ScalekitServerException):
    """No such organization, user, client, secret… (404)."""


class ScalekitConflictException(ScalekitServerException):
    """Already exists (409), e.g. a duplicate external id."""


class ScalekitTooManyRequestsException(ScalekitServerException):
    """Rate limited (429)."""


class ScalekitRateLimitedException(ScalekitTooManyRequestsException):
    """A valid API key used more often than its ``rate_limit`` allows (``.code ==
    "rate_limited"``, an authgate extension). Not a verdict on the key: web handlers answer 429
    with ``Retry-After: <retry_after>``."""

    retry_after: int
    """Seconds until the key's current window ends (at least 1)."""

    def __init__(
        self,
        error: object = "",
        code: str = "rate_limited",
        http_status: int = 429,
        grpc_status: int = GrpcStatusCode.RESOURCE_EXHAUSTED,
        error_code: Optional[str] = None,
        retry_after: int = 1,
    ) -> None:
        super().__init__(error, code, http_status, grpc_status, error_code)
        self.retry_after = int(retry_after)


class ScalekitCancelledException(ScalekitServerException):
    """The request was cancelled (499)."""


class ScalekitInternalServerException(ScalekitServerException):
    """The service failed (500), e.g. a store error."""


class ScalekitNotImplementedException(ScalekitServerException):
    """Not implemented by the service (501)."""


class ScalekitServiceUnavailableException(ScalekitServerException):
    """The service or the store is unreachable (503); retrying later may succeed."""


class ScalekitKeysUnavailableException(ScalekitServiceUnavailableException):
    """The signing keys needed to verify a token could not be obtained (JWKS unreachable past
    the stale window). Not a verdict on the token: web handlers answer 503, never 401."""


class ScalekitGatewayTimeoutException(ScalekitServerException):
    """A call did not complete in time (504)."""


class ScalekitUnknownException(ScalekitServerException):
    """Any other service error."""
