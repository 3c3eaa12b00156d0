//! `scalekit.v1.clients.ClientService`: organizations' M2M clients and their secrets, over the
//! same calls as `/api/v1/organizations/{organization_id}/clients*`.

use tonic::{Request, Response, Status};

use super::auth::authorize;
use super::convert::{client, client_input, non_empty, page_size, secret};
use super::pb::clients::client_service_server::ClientService;
use super::pb::clients::{
    CreateOrganizationClientRequest, CreateOrganizationClientResponse, CreateOrganizationClientSecretRequest,
    CreateOrganizationClientSecretResponse, DeleteOrganizationClientRequest,
    DeleteOrganizationClientSecretRequest, GetOrganizationClientRequest, GetOrganizationClientResponse,
    ListOrganizationClientsRequest, ListOrganizationClientsResponse, UpdateOrganizationClientRequest,
    UpdateOrganizationClientResponse,
};
use super::status::from_error;
use crate::serve::state::AppState;

/// The service, holding the server state.
#[derive(Debug, Clone)]
pub struct Clients(pub AppState);

#[tonic::async_trait]
impl ClientService for Clients {
    async fn create_organization_client(
        &self,
        request: Request<CreateOrganizationClientRequest>,
    ) -> Result<Response<CreateOrganizationClientResponse>, Status> {
        authorize(&self.0, request.metadata()).await?;
        let r = request.into_inner();
        let created = self
            .0
            .api
            .create_organization_client(&r.organization_id, client_input(r.client))
            .await
            .map_err(from_error)?;
        tracing::info!(client_id = %created.client.client_id, organization_id = %r.organization_id, "m2m client created");
        Ok(Response::new(CreateOrganizationClientResponse {
            client: Some(client(created.client)),
            plain_secret: created.plain_secret.expose().to_owned(),
        }))
    }

    async fn get_organization_client(
        &self,
        request: Request<GetOrganizationClientRequest>,
    ) -> Result<Response<GetOrganizationClientResponse>, Status> {
        authorize(&self.0, request.metadata()).await?;
        let r = request.into_inner();
        let found = self
            .0
            .api
            .get_organization_client(&r.organization_id, &r.client_id)
            .await
            .map_err(from_error)?;
        Ok(Response::new(GetOrganizationClientResponse {
            client: Some(client(found)),
        }))
    }

    async fn create_organization_client_secret(
        &self,
        request: Request<CreateOrganizationClientSecretRequest>,
    ) -> Result<Response<CreateOrganizationClientSecretResponse>, Status> {
        authorize(&self.0, request.metadata()).await?;
        let r = request.into_inner();
        let created = self
            .0
            .api
            .add_organization_client_secret(&r.organization_id, &r.client_id)
            .await
            .map_err(from_error)?;
        tracing::info!(secret_id = %created.secret.id, client_id = %r.client_id, "client secret added");
        Ok(Response::new(CreateOrganizationClientSecretResponse {
            plain_secret: created.plain_secret.expose().to_owned(),
            secret: Some(secret(created.secret)),
        }))
    }

    async fn delete_organization_client_secret(
        &self,
        request: Request<DeleteOrganizationClientSecretRequest>,
    ) -> Result<Response<()>, Status> {
        authorize(&self.0, request.metadata()).await?;
        let r = request.into_inner();
        self.0
            .api
            .remove_organization_client_secret(&r.organization_id, &r.client_id, &r.secret_id)
            .await
            .map_err(from_error)?;
        tracing::info!(secret_id = %r.secret_id, client_id = %r.client_id, "client secret removed");
        Ok(Response::new(()))
    }

    async fn update_organization_client(
        &self,
        request: Request<UpdateOrganizationClientRequest>,
    ) -> Result<Response<UpdateOrganizationClientResponse>, Status> {
        authorize(&self.0, request.metadata()).await?;
        let r = request.into_inner();
        let updated = self
            .0
            .api
            .update_organization_client(&r.organization_id, &r.client_id, client_input(r.client))
            .await
            .map_err(from_error)?;
        tracing::info!(client_id = %r.client_id, organization_id = %r.organization_id, "m2m client updated");
        Ok(Response::new(UpdateOrganizationClientResponse {
            client: Some(client(updated)),
        }))
    }

    async fn delete_organization_client(
        &self,
        request: Request<DeleteOrganizationClientRequest>,
    ) -> Result<Response<()>, Status> {
        authorize(&self.0, request.metadata()).await?;
        let r = request.into_inner();
        self.0
            .api
            .delete_organization_client(&r.organization_id, &r.client_id)
            .await
            .map_err(from_error)?;
        tracing::info!(client_id = %r.client_id, organization_id = %r.organization_id, "m2m client deleted");
        Ok(Response::new(()))
    }

    async fn list_organization_clients(
        &self,
        request: Request<ListOrganizationClientsRequest>,
    ) -> Result<Response<ListOrganizationClientsResponse>, Status> {
        authorize(&self.0, request.metadata()).await?;
        let r = request.into_inner();
        let list = self
            .0
            .api
            .list_organization_clients(
                &r.organization_id,
                page_size(r.page_size),
                non_empty(r.page_token),
            )
            .await
            .map_err(from_error)?;
        Ok(Response::new(ListOrganizationClientsResponse {
            next_page_token: list.next_page_token,
            total_size: list.total_size,
            clients: list.clients.into_iter().map(client).collect(),
            prev_page_token: list.prev_page_token,
        }))
    }
}
