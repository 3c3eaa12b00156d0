//! `scalekit.v1.organizations.OrganizationService`, over the same calls as
//! `/api/v1/organizations*`. An organization is named by `id` or by `external_id` (the SDKs'
//! "by external id" helpers); the latter is looked up with the list filter.

use authgate_core::Error;
use authgate_core::model::{CreateOrganization, ListOrganizations, Organization, UpdateOrganization};
use tonic::{Request, Response, Status};

use super::auth::authorize;
use super::convert::{non_empty, organization, page_size};
use super::pb::organizations::organization_service_server::OrganizationService;
use super::pb::organizations::{
    CreateOrganizationRequest, CreateOrganizationResponse, DeleteOrganizationRequest, GetOrganizationRequest,
    GetOrganizationResponse, ListOrganizationsRequest, ListOrganizationsResponse, UpdateOrganizationRequest,
    UpdateOrganizationResponse, delete_organization_request, get_organization_request,
    update_organization_request,
};
use super::status::{from_error, invalid};
use crate::serve::state::AppState;

/// The service, holding the server state.
#[derive(Debug, Clone)]
pub struct Organizations(pub AppState);

/// How a request names an organization.
enum OrgRef {
    Id(String),
    ExternalId(String),
}

impl Organizations {
    async fn find(&self, by: OrgRef) -> Result<Organization, Status> {
        match by {
            OrgRef::Id(id) => self.0.api.get_organization(&id).await.map_err(from_error),
            OrgRef::ExternalId(external_id) => {
                if external_id.is_empty() {
                    return Err(invalid("external_id", "must not be empty"));
                }
                let list = self
                    .0
                    .api
                    .list_organizations(ListOrganizations {
                        page_size: Some(1),
                        page_token: None,
                        external_id: Some(external_id.clone()),
                    })
                    .await
                    .map_err(from_error)?;
                list.organizations
                    .into_iter()
                    .next()
                    .ok_or_else(|| from_error(Error::not_found("organization", external_id)))
            }
        }
    }
}

#[tonic::async_trait]
impl OrganizationService for Organizations {
    async fn create_organization(
        &self,
        request: Request<CreateOrganizationRequest>,
    ) -> Result<Response<CreateOrganizationResponse>, Status> {
        authorize(&self.0, request.metadata()).await?;
        let Some(o) = request.into_inner().organization else {
            return Err(invalid("organization", "is required"));
        };
        // Fields authgate does not store are refused rather than dropped.
        if !o.metadata.is_empty() {
            return Err(invalid(
                "metadata",
                "organization metadata is not supported by authgate",
            ));
        }
        if o.slug.as_deref().is_some_and(|v| !v.is_empty()) {
            return Err(invalid(
                "slug",
                "organization slugs are not supported by authgate",
            ));
        }
        if o.logo_url.as_deref().is_some_and(|v| !v.is_empty()) {
            return Err(invalid(
                "logo_url",
                "organization logos are not supported by authgate",
            ));
        }
        let created = self
            .0
            .api
            .create_organization(CreateOrganization {
                display_name: o.display_name,
                external_id: o.external_id.and_then(non_empty),
            })
            .await
            .map_err(from_error)?;
        tracing::info!(organization_id = %created.id, "organization created");
        Ok(Response::new(CreateOrganizationResponse {
            organization: Some(organization(created)),
        }))
    }

    async fn update_organization(
        &self,
        request: Request<UpdateOrganizationRequest>,
    ) -> Result<Response<UpdateOrganizationResponse>, Status> {
        authorize(&self.0, request.metadata()).await?;
        let r = request.into_inner();
        // No update mask (the SDKs send none): the fields present are the update.
        let Some(o) = r.organization else {
            return Err(invalid("organization", "is required"));
        };
        if !o.metadata.is_empty() {
            return Err(invalid(
                "metadata",
                "organization metadata is not supported by authgate",
            ));
        }
        if o.slug.as_deref().is_some_and(|v| !v.is_empty()) {
            return Err(invalid(
                "slug",
                "organization slugs are not supported by authgate",
            ));
        }
        if o.logo_url.as_deref().is_some_and(|v| !v.is_empty()) {
            return Err(invalid(
                "logo_url",
                "organization logos are not supported by authgate",
            ));
        }
        let id = match r.identities {
            Some(update_organization_request::Identities::Id(id)) => id,
            Some(update_organization_request::Identities::ExternalId(e)) => {
                self.find(OrgRef::ExternalId(e)).await?.id
            }
            None => return Err(invalid("id", "id or external_id is required")),
        };
        let updated = self
            .0
            .api
            .update_organization(
                &id,
                UpdateOrganization {
                    display_name: o.display_name,
                    external_id: o.external_id,
                },
            )
            .await
            .map_err(from_error)?;
        tracing::info!(organization_id = %updated.id, "organization updated");
        Ok(Response::new(UpdateOrganizationResponse {
            organization: Some(organization(updated)),
        }))
    }

    async fn get_organization(
        &self,
        request: Request<GetOrganizationRequest>,
    ) -> Result<Response<GetOrganizationResponse>, Status> {
        authorize(&self.0, request.metadata()).await?;
        let by = match request.into_inner().identities {
            Some(get_organization_request::Identities::Id(id)) => OrgRef::Id(id),
            Some(get_organization_request::Identities::ExternalId(e)) => OrgRef::ExternalId(e),
            None => return Err(invalid("id", "id or external_id is required")),
        };
        let found = self.find(by).await?;
        Ok(Response::new(GetOrganizationResponse {
            organization: Some(organization(found)),
        }))
    }

    async fn list_organization(
        &self,
        request: Request<ListOrganizationsRequest>,
    ) -> Result<Response<ListOrganizationsResponse>, Status> {
        authorize(&self.0, request.metadata()).await?;
        let r = request.into_inner();
        let list = self
            .0
            .api
            .list_organizations(ListOrganizations {
                page_size: page_size(r.page_size),
                page_token: non_empty(r.page_token),
                external_id: r.external_id.and_then(non_empty),
            })
            .await
            .map_err(from_error)?;
        Ok(Response::new(ListOrganizationsResponse {
            next_page_token: list.next_page_token,
            total_size: list.total_size,
            organizations: list.organizations.into_iter().map(organization).collect(),
            prev_page_token: list.prev_page_token,
        }))
    }

    async fn delete_organization(
        &self,
        request: Request<DeleteOrganizationRequest>,
    ) -> Result<Response<()>, Status> {
        authorize(&self.0, request.metadata()).await?;
        let id = match request.into_inner().identities {
            Some(delete_organization_request::Identities::Id(id)) => id,
            Some(delete_organization_request::Identities::ExternalId(e)) => {
                self.find(OrgRef::ExternalId(e)).await?.id
            }
            None => return Err(invalid("id", "id or external_id is required")),
        };
        self.0.api.delete_organization(&id).await.map_err(from_error)?;
        tracing::info!(organization_id = %id, "organization deleted");
        Ok(Response::new(()))
    }
}
