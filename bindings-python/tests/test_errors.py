"""The exception hierarchy mirrors the official SDK's, and `import authgate` stays light."""

from __future__ import annotations

import subprocess
import sys
from http import HTTPStatus

import pytest

import authgate
import authgate.errors as errors
from authgate.errors import GrpcStatusCode


def test_hierarchy_and_exports() -> None:
    server_errors = [
        errors.ScalekitBadRequestException,
        errors.ScalekitUnauthorizedException,
        errors.ScalekitForbiddenException,
        errors.ScalekitNotFoundException,
        errors.ScalekitConflictException,
        errors.ScalekitTooManyRequestsException,
        errors.ScalekitCancelledException,
        errors.ScalekitInternalServerException,
        errors.ScalekitNotImplementedException,
        errors.ScalekitServiceUnavailableException,
        errors.ScalekitGatewayTimeoutException,
        errors.ScalekitUnknownException,
    ]
    for cls in server_errors:
        assert issubclass(cls, errors.ScalekitServerException) and issubclass(cls, errors.ScalekitException)
        assert getattr(authgate, cls.__name__) is cls
    assert issubclass(errors.ScalekitValidateTokenFailureException, errors.ScalekitException)
    assert not issubclass(errors.ScalekitValidateTokenFailureException, errors.ScalekitServerException)
    assert issubclass(errors.ScalekitInsufficientScopeException, errors.ScalekitValidateTokenFailureException)
    assert issubclass(errors.ScalekitKeysUnavailableException, errors.ScalekitServiceUnavailableException)
    assert issubclass(errors.ScalekitBadRequestException, ValueError)
    assert set(errors.__all__) <= set(authgate.__all__)


def test_server_exception_attributes() -> None:
    e = errors.ScalekitNotFoundException("organization not found: org_1", "not_found", 404, 5)
    assert e.http_status == HTTPStatus.NOT_FOUND and e.grpc_status == GrpcStatusCode.NOT_FOUND
    assert e.grpc_status.name == "NOT_FOUND" and e.error_code == "not_found" and e.code == "not_found"
    assert e.message == str(e) == "organization not found: org_1"


def test_remote_errors_carry_the_servers_code(remote_client: authgate.ScalekitClient) -> None:
    with pytest.raises(errors.ScalekitNotFoundException) as caught:
        remote_client.organization.get_organization("org_404")
    assert caught.value.code == "not_found" and caught.value.error_code == "not_found"
    assert caught.value.http_status == 404 and caught.value.grpc_status == GrpcStatusCode.NOT_FOUND


def test_wrong_environment_credentials(server: object) -> None:
    url = getattr(server, "url")
    bad = authgate.ScalekitClient(url, getattr(server, "client_id"), "not-the-secret")
    with pytest.raises(errors.ScalekitUnauthorizedException) as caught:
        bad.organization.list_organizations()
    assert "not-the-secret" not in str(caught.value)
    with pytest.raises(errors.ScalekitBadRequestException):
        authgate.ScalekitClient("http://example.com", "skc_1", "secret")  # plain http off loopback


def test_unreachable_environment_is_unavailable() -> None:
    client = authgate.ScalekitClient("http://127.0.0.1:9", "skc_1", "secret")
    with pytest.raises(errors.ScalekitServiceUnavailableException) as caught:
        client.tokens.validate_token("x" * 40)
    assert caught.value.http_status == 503


def test_import_is_light() -> None:
    code = "import sys, authgate; print(sorted(m for m in ('flask', 'fastapi', 'starlette') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    assert authgate.__version__.count(".") == 2
