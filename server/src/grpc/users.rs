//! `scalekit.v1.users.UserService`: users and memberships, over the same calls as
//! `/api/v1/organizations/{organization_id}/users`.
//!
//! The core offers creating a user with a membership and listing an organization's members;
//! the other methods answer `UNIMPLEMENTED` until the core offers them.

use authgate_core::model::CreateUser;
use tonic::{Request, Response, Status};

use super::auth::authorize;
use super::convert::{non_empty, page_size, user};
use super::pb::users::user_service_server::UserService;
use super::pb::users::{
    CreateMembershipRequest, CreateMembershipResponse, CreateUserAndMembershipRequest,
    CreateUserAndMembershipResponse, DeleteMembershipRequest, DeleteUserRequest, GetUserRequest,
    GetUserResponse, ListOrganizationUsersRequest, ListOrganizationUsersResponse, ListUsersRequest,
    ListUsersResponse, UpdateMembershipRequest, UpdateMembershipResponse, UpdateUserRequest,
    UpdateUserResponse,
};
use super::status::{from_error, invalid, unimplemented};
use crate::serve::state::AppState;

/// The service, holding the server state.
#[derive(Debug, Clone)]
pub struct Users(pub AppState);

#[tonic::async_trait]
impl UserService for Users {
    async fn create_user_and_membership(
        &self,
        request: Request<CreateUserAndMembershipRequest>,
    ) -> Result<Response<CreateUserAndMembershipResponse>, Status> {
        authorize(&self.0, request.metadata()).await?;
        let r = request.into_inner();
        let Some(u) = r.user else {
            return Err(invalid("user", "is required"));
        };
        if !u.metadata.is_empty() {
            return Err(invalid("metadata", "user metadata is not supported by authgate"));
        }
        let roles = u
            .membership
            .map(|m| m.roles.into_iter().map(|r| r.name).collect())
            .unwrap_or_default();
        let created = self
            .0
            .api
            .create_user_and_membership(
                &r.organization_id,
                CreateUser {
                    email: u.email,
                    external_id: u.external_id.and_then(non_empty),
                    roles,
                },
            )
            .await
            .map_err(from_error)?;
        tracing::info!(user_id = %created.id, organization_id = %r.organization_id, "user and membership created");
        Ok(Response::new(CreateUserAndMembershipResponse {
            user: Some(user(created)),
        }))
    }

    async fn list_organization_users(
        &self,
        request: Request<ListOrganizationUsersRequest>,
    ) -> Result<Response<ListOrganizationUsersResponse>, Status> {
        authorize(&self.0, request.metadata()).await?;
        let r = request.into_inner();
        let list = self
            .0
            .api
            .list_organization_users(
                &r.organization_id,
                page_size(r.page_size),
                non_empty(r.page_token),
            )
            .await
            .map_err(from_error)?;
        Ok(Response::new(ListOrganizationUsersResponse {
            next_page_token: list.next_page_token,
            total_size: list.total_size,
            users: list.users.into_iter().map(user).collect(),
            prev_page_token: list.prev_page_token,
        }))
    }

    async fn get_user(&self, request: Request<GetUserRequest>) -> Result<Response<GetUserResponse>, Status> {
        authorize(&self.0, request.metadata()).await?;
        Err(unimplemented("GetUser"))
    }

    async fn list_users(
        &self,
        request: Request<ListUsersRequest>,
    ) -> Result<Response<ListUsersResponse>, Status> {
        authorize(&self.0, request.metadata()).await?;
        Err(unimplemented("ListUsers"))
    }

    async fn update_user(
        &self,
        request: Request<UpdateUserRequest>,
    ) -> Result<Response<UpdateUserResponse>, Status> {
        authorize(&self.0, request.metadata()).await?;
        Err(unimplemented("UpdateUser"))
    }

    async fn delete_user(&self, request: Request<DeleteUserRequest>) -> Result<Response<()>, Status> {
        authorize(&self.0, request.metadata()).await?;
        Err(unimplemented("DeleteUser"))
    }

    async fn create_membership(
        &self,
        request: Request<CreateMembershipRequest>,
    ) -> Result<Response<CreateMembershipResponse>, Status> {
        authorize(&self.0, request.metadata()).await?;
        Err(unimplemented("CreateMembership"))
    }

    async fn update_membership(
        &self,
        request: Request<UpdateMembershipRequest>,
    ) -> Result<Response<UpdateMembershipResponse>, Status> {
        authorize(&self.0, request.metadata()).await?;
        Err(unimplemented("UpdateMembership"))
    }

    async fn delete_membership(
        &self,
        request: Request<DeleteMembershipRequest>,
    ) -> Result<Response<()>, Status> {
        authorize(&self.0, request.metadata()).await?;
        Err(unimplemented("DeleteMembership"))
    }
}
