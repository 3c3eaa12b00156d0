"""authgate: machine-to-machine authentication for Python web apps, on a Rust core.

Opaque API keys, OAuth 2.0 client credentials with RS256 access tokens, and fast JWT validation,
with the surface of the official Scalekit Python SDK::

    from authgate import ScalekitClient

    client = ScalekitClient(env_url, client_id, client_secret)   # a remote environment
    client = ScalekitClient.local("sqlite:///var/lib/app/auth.db")  # embedded, in-process

    created = client.tokens.create_token(organization_id=org_id, description="CI")
    info = client.tokens.validate_token(token=created.token).token_info

Framework adapters live in :mod:`authgate.flask` and :mod:`authgate.fastapi` (imported on
demand: ``import authgate`` does not import Flask or FastAPI).
"""

from __future__ import annotations

import os as _os

from authgate import _native
from authgate._native import (
    AccessToken,
    AuditEvent,
    AuditService,
    ClientCredentials,
    ClientSecret,
    CreateMembership,
    CreateOrganization,
    CreateOrganizationClientResponse,
    CreateOrganizationClientSecretResponse,
    CreateTokenResponse,
    CreateUser,
    CreateUserAndMembershipResponse,
    CustomClaim,
    JwtValidator,
    ListAuditEventsResponse,
    ListOrganizationClientsResponse,
    ListOrganizationsResponse,
    ListOrganizationUsersResponse,
    ListTokensResponse,
    ListUsersResponse,
    M2MClient,
    M2MClientService,
    Membership,
    Organization,
    OrganizationClient,
    OrganizationClientResponse,
    OrganizationResponse,
    OrganizationService,
    RateLimit,
    Role,
    ScalekitClient,
    TokenInfo,
    TokenService,
    TokenValidationOptions,
    UpdateMembership,
    UpdateOrganization,
    UpdateTokenResponse,
    UpdateUser,
    User,
    UserResponse,
    UserService,
    ValidateTokenResponse,
    VerifiedToken,
    __version__,
    client_address,
)
from authgate import errors as _errors
from authgate.errors import *  # noqa: F403 - the exceptions, listed once in errors.__all__

__all__ = [
    "__version__",
    # client and sub-clients
    "ScalekitClient",
    "TokenService",
    "M2MClientService",
    "OrganizationService",
    "UserService",
    "AuditService",
    # JWT validation and client credentials
    "JwtValidator",
    "VerifiedToken",
    "TokenValidationOptions",
    "ClientCredentials",
    "AccessToken",
    # API keys
    "TokenInfo",
    "CreateTokenResponse",
    "ValidateTokenResponse",
    "UpdateTokenResponse",
    "ListTokensResponse",
    "RateLimit",
    # the caller's address (allowed_cidrs, the adapters' trusted_proxies)
    "client_address",
    # M2M clients
    "OrganizationClient",
    "CustomClaim",
    "M2MClient",
    "ClientSecret",
    "CreateOrganizationClientResponse",
    "OrganizationClientResponse",
    "CreateOrganizationClientSecretResponse",
    "ListOrganizationClientsResponse",
    # organizations and users
    "CreateOrganization",
    "Organization",
    "OrganizationResponse",
    "ListOrganizationsResponse",
    "CreateUser",
    "CreateMembership",
    "Role",
    "User",
    "Membership",
    "CreateUserAndMembershipResponse",
    "ListOrganizationUsersResponse",
    "UpdateOrganization",
    "UpdateUser",
    "UpdateMembership",
    "UserResponse",
    "ListUsersResponse",
    # the audit log
    "AuditEvent",
    "ListAuditEventsResponse",
]
__all__ += _errors.__all__

# The native runtime's threads do not survive fork(): a child that inherited a started runtime
# gets a clear error instead of a hang (see `runtime.rs`).
if hasattr(_os, "register_at_fork"):
    _os.register_at_fork(after_in_child=_native._after_fork_in_child)
