//! `scalekit.v1.tokens.ApiTokenService`: API keys, over the same calls as `/api/v1/tokens*`.

use authgate_core::keys;
use authgate_core::model::{CreateToken, ListTokens, UpdateToken};
use tonic::{Request, Response, Status};

use super::auth::authorize;
use super::convert::{from_timestamp, non_empty, token};
use super::pb::tokens::api_token_service_server::ApiTokenService;
use super::pb::tokens::{
    CreateTokenRequest, CreateTokenResponse, InvalidateTokenRequest, ListTokensRequest, ListTokensResponse,
    UpdateTokenRequest, UpdateTokenResponse, ValidateTokenRequest, ValidateTokenResponse,
};
use super::status::{from_error, invalid};
use crate::serve::metrics::Validation;
use crate::serve::state::AppState;

/// The service, holding the server state.
#[derive(Debug, Clone)]
pub struct Tokens(pub AppState);

#[tonic::async_trait]
impl ApiTokenService for Tokens {
    async fn create_token(
        &self,
        request: Request<CreateTokenRequest>,
    ) -> Result<Response<CreateTokenResponse>, Status> {
        authorize(&self.0, request.metadata()).await?;
        let Some(t) = request.into_inner().token else {
            return Err(invalid("token", "is required"));
        };
        let input = CreateToken {
            organization_id: t.organization_id,
            user_id: non_empty(t.user_id),
            custom_claims: t.custom_claims.into_iter().collect(),
            expiry: t
                .expiry
                .as_ref()
                .map(|e| from_timestamp("expiry", e))
                .transpose()?,
            description: non_empty(t.description),
            ..Default::default()
        };
        let created = self.0.api.create_token(input).await.map_err(from_error)?;
        tracing::info!(
            token_id = %created.token_id,
            organization_id = %created.token_info.organization_id,
            user_id = created.token_info.user_id.as_deref(),
            "api key created"
        );
        Ok(Response::new(CreateTokenResponse {
            token: created.token.expose().to_owned(),
            token_id: created.token_id,
            token_info: Some(token(created.token_info)),
        }))
    }

    async fn validate_token(
        &self,
        request: Request<ValidateTokenRequest>,
    ) -> Result<Response<ValidateTokenResponse>, Status> {
        authorize(&self.0, request.metadata()).await?;
        let key = request.into_inner().token;
        // A key or its `apit_…` id (an administrative lookup, as Scalekit's ValidateToken).
        let result = if key.starts_with("apit_") {
            self.0.api.lookup_token(&key).await
        } else {
            self.0.api.validate_token(&key).await
        };
        match result {
            Ok(info) => {
                self.0.metrics.validation(Validation::Valid);
                Ok(Response::new(ValidateTokenResponse {
                    token_info: Some(token(info)),
                }))
            }
            Err(err) => {
                self.0.metrics.validation(if err.is_validation_failure() {
                    Validation::Invalid
                } else {
                    Validation::Error
                });
                Err(from_error(err))
            }
        }
    }

    async fn invalidate_token(
        &self,
        request: Request<InvalidateTokenRequest>,
    ) -> Result<Response<()>, Status> {
        authorize(&self.0, request.metadata()).await?;
        let key = request.into_inner().token;
        self.0.api.invalidate_token(&key).await.map_err(from_error)?;
        if keys::is_id(&key, keys::TOKEN_ID_PREFIX, keys::MAX_ID_LEN) {
            tracing::info!(token_id = %key, "api key invalidated");
        } else {
            tracing::info!("api key invalidated (by key)");
        }
        Ok(Response::new(()))
    }

    async fn list_tokens(
        &self,
        request: Request<ListTokensRequest>,
    ) -> Result<Response<ListTokensResponse>, Status> {
        authorize(&self.0, request.metadata()).await?;
        let r = request.into_inner();
        let page_size = match r.page_size {
            0 => None,
            n => Some(u32::try_from(n).map_err(|_| invalid("page_size", "must not be negative"))?),
        };
        let list = self
            .0
            .api
            .list_tokens(ListTokens {
                organization_id: r.organization_id,
                user_id: r.user_id.and_then(non_empty),
                page_size,
                page_token: non_empty(r.page_token),
                ..Default::default()
            })
            .await
            .map_err(from_error)?;
        Ok(Response::new(ListTokensResponse {
            tokens: list.tokens.into_iter().map(token).collect(),
            total_count: i32::try_from(list.total_count).unwrap_or(i32::MAX),
            next_page_token: list.next_page_token,
            prev_page_token: list.prev_page_token,
        }))
    }

    /// The claims map replaces the key's claims when it is not empty (proto3 cannot send an
    /// absent map; the SDKs merge client-side and send the whole map); `description`, when
    /// present, replaces the description (`""` clears it).
    async fn update_token(
        &self,
        request: Request<UpdateTokenRequest>,
    ) -> Result<Response<UpdateTokenResponse>, Status> {
        authorize(&self.0, request.metadata()).await?;
        let r = request.into_inner();
        let info = self
            .0
            .api
            .update_token(UpdateToken {
                token: r.token,
                custom_claims: (!r.custom_claims.is_empty()).then(|| r.custom_claims.into_iter().collect()),
                description: r.description,
                ..Default::default()
            })
            .await
            .map_err(from_error)?;
        tracing::info!(token_id = %info.token_id, "api key updated");
        Ok(Response::new(UpdateTokenResponse {
            token_info: Some(token(info)),
        }))
    }
}
