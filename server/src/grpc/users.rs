//! `scalekit.v1.users.UserService`: users and memberships, over the same calls as
//! `/api/v1/organizations/{organization_id}/users`.
//!
//! A user is named by `usr_…` id or by external id (the `identities` oneof; the SDKs' "by
//! external id" helpers). Fields authgate does not store (metadata, user profiles) are refused
//! rather than dropped; invitation emails are not sent (authgate sends no email).

use std::collections::HashMap;

use authgate_core::model::{CreateUser, MembershipInput, UpdateUser, UserRef};
use tonic::{Request, Response, Status};

use super::auth::authorize;
use super::convert::{non_empty, page_size, user};
use super::pb::commons::Role;
use super::pb::users::user_service_server::UserService;
use super::pb::users::{
    CreateMembershipRequest, CreateMembershipResponse, CreateUserAndMembershipRequest,
    CreateUserAndMembershipResponse, DeleteMembershipRequest, DeleteUserRequest, GetUserRequest,
    GetUserResponse, ListOrganizationUsersRequest, ListOrganizationUsersResponse, ListUsersRequest,
    ListUsersResponse, UpdateMembershipRequest, UpdateMembershipResponse, UpdateUserRequest,
    UpdateUserResponse, create_membership_request, delete_membership_request, delete_user_request,
    get_user_request, update_membership_request, update_user_request,
};
use super::status::{from_error, invalid};
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
        let by = match request.into_inner().identities {
            Some(get_user_request::Identities::Id(id)) => UserRef::Id(id),
            Some(get_user_request::Identities::ExternalId(e)) => UserRef::ExternalId(e),
            None => return Err(invalid("id", "id or external_id is required")),
        };
        let found = self.0.api.get_user(&by).await.map_err(from_error)?;
        Ok(Response::new(GetUserResponse {
            user: Some(user(found)),
        }))
    }

    async fn list_users(
        &self,
        request: Request<ListUsersRequest>,
    ) -> Result<Response<ListUsersResponse>, Status> {
        authorize(&self.0, request.metadata()).await?;
        let r = request.into_inner();
        let list = self
            .0
            .api
            .list_users(page_size(r.page_size), non_empty(r.page_token))
            .await
            .map_err(from_error)?;
        Ok(Response::new(ListUsersResponse {
            users: list.users.into_iter().map(user).collect(),
            next_page_token: list.next_page_token,
            total_size: list.total_size,
            prev_page_token: list.prev_page_token,
        }))
    }

    async fn update_user(
        &self,
        request: Request<UpdateUserRequest>,
    ) -> Result<Response<UpdateUserResponse>, Status> {
        authorize(&self.0, request.metadata()).await?;
        let r = request.into_inner();
        let by = match r.identities {
            Some(update_user_request::Identities::Id(id)) => UserRef::Id(id),
            Some(update_user_request::Identities::ExternalId(e)) => UserRef::ExternalId(e),
            None => return Err(invalid("id", "id or external_id is required")),
        };
        let Some(u) = r.user else {
            return Err(invalid("user", "is required"));
        };
        if !u.metadata.is_empty() {
            return Err(invalid("metadata", "user metadata is not supported by authgate"));
        }
        if u.user_profile.is_some_and(|p| p != Default::default()) {
            return Err(invalid(
                "user_profile",
                "user profiles are not supported by authgate",
            ));
        }
        let updated = self
            .0
            .api
            .update_user(
                &by,
                UpdateUser {
                    external_id: u.external_id,
                },
            )
            .await
            .map_err(from_error)?;
        tracing::info!(user_id = %updated.id, "user updated");
        Ok(Response::new(UpdateUserResponse {
            user: Some(user(updated)),
        }))
    }

    async fn delete_user(&self, request: Request<DeleteUserRequest>) -> Result<Response<()>, Status> {
        authorize(&self.0, request.metadata()).await?;
        let by = match request.into_inner().identities {
            Some(delete_user_request::Identities::Id(id)) => UserRef::Id(id),
            Some(delete_user_request::Identities::ExternalId(e)) => UserRef::ExternalId(e),
            None => return Err(invalid("id", "id or external_id is required")),
        };
        self.0.api.delete_user(&by).await.map_err(from_error)?;
        tracing::info!(user = %by, "user deleted");
        Ok(Response::new(()))
    }

    async fn create_membership(
        &self,
        request: Request<CreateMembershipRequest>,
    ) -> Result<Response<CreateMembershipResponse>, Status> {
        authorize(&self.0, request.metadata()).await?;
        let r = request.into_inner();
        let by = match r.identities {
            Some(create_membership_request::Identities::Id(id)) => UserRef::Id(id),
            Some(create_membership_request::Identities::ExternalId(e)) => UserRef::ExternalId(e),
            None => return Err(invalid("id", "id or external_id is required")),
        };
        let input = match r.membership {
            Some(m) => membership_input(m.roles, &m.metadata)?,
            None => MembershipInput::default(),
        };
        let created = self
            .0
            .api
            .create_membership(&r.organization_id, &by, input)
            .await
            .map_err(from_error)?;
        tracing::info!(user_id = %created.id, organization_id = %r.organization_id, "membership created");
        Ok(Response::new(CreateMembershipResponse {
            user: Some(user(created)),
        }))
    }

    async fn update_membership(
        &self,
        request: Request<UpdateMembershipRequest>,
    ) -> Result<Response<UpdateMembershipResponse>, Status> {
        authorize(&self.0, request.metadata()).await?;
        let r = request.into_inner();
        let by = match r.identities {
            Some(update_membership_request::Identities::Id(id)) => UserRef::Id(id),
            Some(update_membership_request::Identities::ExternalId(e)) => UserRef::ExternalId(e),
            None => return Err(invalid("id", "id or external_id is required")),
        };
        let Some(m) = r.membership else {
            return Err(invalid("membership", "is required"));
        };
        let input = membership_input(m.roles, &m.metadata)?;
        let updated = self
            .0
            .api
            .update_membership(&r.organization_id, &by, input)
            .await
            .map_err(from_error)?;
        tracing::info!(user_id = %updated.id, organization_id = %r.organization_id, "membership updated");
        Ok(Response::new(UpdateMembershipResponse {
            user: Some(user(updated)),
        }))
    }

    async fn delete_membership(
        &self,
        request: Request<DeleteMembershipRequest>,
    ) -> Result<Response<()>, Status> {
        authorize(&self.0, request.metadata()).await?;
        let r = request.into_inner();
        let by = match r.identities {
            Some(delete_membership_request::Identities::Id(id)) => UserRef::Id(id),
            Some(delete_membership_request::Identities::ExternalId(e)) => UserRef::ExternalId(e),
            None => return Err(invalid("id", "id or external_id is required")),
        };
        if r.cascade == Some(true) {
            return Err(invalid(
                "cascade",
                "cascading membership deletes are not supported by authgate",
            ));
        }
        self.0
            .api
            .delete_membership(&r.organization_id, &by)
            .await
            .map_err(from_error)?;
        tracing::info!(user = %by, organization_id = %r.organization_id, "membership deleted");
        Ok(Response::new(()))
    }
}

/// The roles of a membership request; metadata is refused (authgate does not store it).
fn membership_input(roles: Vec<Role>, metadata: &HashMap<String, String>) -> Result<MembershipInput, Status> {
    if !metadata.is_empty() {
        return Err(invalid(
            "metadata",
            "membership metadata is not supported by authgate",
        ));
    }
    Ok(MembershipInput {
        roles: roles.into_iter().map(|r| r.name).collect(),
    })
}
