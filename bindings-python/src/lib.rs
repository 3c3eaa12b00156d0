//! `authgate._native`: the Python extension module of authgate.
//!
//! This crate translates; the logic lives in `authgate-core`. One file per concept:
//! [`client`] (`ScalekitClient`), [`audit`] (the audit log), [`tokens`] (API keys), [`m2m`] (M2M clients),
//! [`organizations`], [`users`], [`jwt`] (`JwtValidator`), [`oauth`] (`ClientCredentials`),
//! [`policy`] (the request policy of the web adapters),
//! [`errors`] (the one error mapping), [`types`] (value conversions) and [`runtime`] (the tokio
//! runtime owned by the binding). The public Python
//! package (`python/authgate/`) re-exports this module and adds the Flask / FastAPI adapters.

mod audit;
mod client;
mod errors;
mod jwt;
mod m2m;
mod oauth;
mod organizations;
mod policy;
mod runtime;
mod tokens;
mod types;
mod users;

/// The native module. Every class exported to Python is listed here, once.
#[pyo3::pymodule]
mod _native {
    use pyo3::prelude::*;

    #[pymodule_export]
    use crate::audit::{PyAuditEvent, PyAuditService, PyListAuditEventsResponse};
    #[pymodule_export]
    use crate::client::PyScalekitClient;
    #[pymodule_export]
    use crate::jwt::{PyJwtValidator, PyTokenValidationOptions, PyVerifiedToken};
    #[pymodule_export]
    use crate::m2m::{
        PyClientSecret, PyCreateOrganizationClientResponse, PyCreateOrganizationClientSecretResponse,
        PyCustomClaim, PyListOrganizationClientsResponse, PyM2MClient, PyM2MClientService,
        PyOrganizationClient, PyOrganizationClientResponse,
    };
    #[pymodule_export]
    use crate::oauth::{PyAccessToken, PyClientCredentials};
    #[pymodule_export]
    use crate::organizations::{
        PyCreateOrganization, PyListOrganizationsResponse, PyOrganization, PyOrganizationResponse,
        PyOrganizationService, PyUpdateOrganization,
    };
    #[pymodule_export]
    use crate::policy::{check_bearer, client_address, http_answer, parse_networks};
    #[pymodule_export]
    use crate::runtime::_after_fork_in_child;
    #[pymodule_export]
    use crate::tokens::{
        PyCreateTokenResponse, PyListTokensResponse, PyRateLimit, PyTokenInfo, PyTokenService,
        PyUpdateTokenResponse, PyValidateTokenResponse,
    };
    #[pymodule_export]
    use crate::users::{
        PyCreateMembership, PyCreateUser, PyCreateUserAndMembershipResponse, PyListOrganizationUsersResponse,
        PyListUsersResponse, PyMembership, PyRole, PyUpdateMembership, PyUpdateUser, PyUser, PyUserResponse,
        PyUserService,
    };

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))
    }
}
