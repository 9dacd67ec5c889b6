//! Customers of a workspace: uploads, lists, changes; groups; profile fields.

use std::path::{Path, PathBuf};

use futures_core::Stream;
use futures_util::stream::BoxStream;
use reqwest::header::CONTENT_TYPE;
use tokio::io::AsyncRead;
use uuid::Uuid;

use crate::client::{Auth, Client, decode};
use crate::endpoints as ep;
use crate::error::Error;
use crate::paging::every_item;
use crate::types::{
    BulkDeleteReport, BulkUpdateReport, BulkUpdateRequest, Customer, CustomerChanges,
    CustomerFilter, CustomerUpdate, Group, GroupChanges, IdsRequest, MembersAdded, MembersRemoved,
    MembersRequest, NewGroup, NewProfileField, Page, PageCount, PageRequest, ProfileField,
    ProfileFieldChanges, UploadMode, UploadReport,
};

const NO_QUERY: Option<&()> = None;
const NO_BODY: Option<&()> = None;

#[derive(serde::Serialize)]
struct ModeQuery {
    mode: UploadMode,
}

#[derive(serde::Serialize)]
struct ListQuery<'a> {
    #[serde(flatten)]
    filter: &'a CustomerFilter,
    #[serde(flatten)]
    page: &'a PageRequest,
}

#[derive(serde::Serialize)]
struct PagesQuery<'a> {
    #[serde(flatten)]
    filter: &'a CustomerFilter,
    page_size: Option<i64>,
}

impl Client {
    /// `POST …/customers/upload` with a CSV file read from `path` (streamed, never whole in
    /// memory), as `text/csv`. The header row names the columns (`external_id`, `email`,
    /// `phone`, `first_name`, `last_name`, profile field keys); rows upsert by `external_id`,
    /// else `email`. The file is opened again if the request has to be repeated with a renewed
    /// token.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be opened; 400 for unknown columns or an unreadable
    /// file; 413 over the server's upload limit.
    pub async fn upload_csv_file(
        &self,
        workspace_id: Uuid,
        path: impl AsRef<Path>,
        mode: UploadMode,
    ) -> Result<UploadReport, Error> {
        let path: PathBuf = path.as_ref().to_owned();
        // Fails early, and clearly, for a file that is not there.
        std::fs::metadata(&path)?;
        let url_path = ep::UPLOAD_CUSTOMERS.fill(&[&workspace_id]);
        let response = self
            .execute(Auth::Bearer, |http, base| {
                let file = std::fs::File::open(&path)?;
                Ok(Some(
                    http.post(format!("{base}{url_path}"))
                        .query(&ModeQuery { mode })
                        .header(CONTENT_TYPE, "text/csv")
                        .body(tokio::fs::File::from_std(file)),
                ))
            })
            .await?;
        decode(response).await
    }

    /// `POST …/customers/upload` with CSV bytes from a stream of chunks (`Vec<u8>`, `String`,
    /// `Bytes`, …), as `text/csv`.
    /// A stream is read once: if the server refuses the token (401) the upload is not repeated
    /// (the client renews its token ahead of expiry, so this is rare), and the 401 is returned.
    ///
    /// # Errors
    /// As [`Client::upload_csv_file`].
    pub async fn upload_csv_stream<S, B, E>(
        &self,
        workspace_id: Uuid,
        chunks: S,
        mode: UploadMode,
    ) -> Result<UploadReport, Error>
    where
        S: Stream<Item = Result<B, E>> + Send + 'static,
        bytes::Bytes: From<B>,
        B: 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
    {
        let body = std::sync::Mutex::new(Some(reqwest::Body::wrap_stream(chunks)));
        self.upload_body(workspace_id, mode, "text/csv", body).await
    }

    /// `POST …/customers/upload` with CSV read from any [`AsyncRead`] (a file, a socket, a
    /// decompressor), streamed. Read once, like [`Client::upload_csv_stream`].
    ///
    /// # Errors
    /// As [`Client::upload_csv_file`].
    pub async fn upload_csv_reader<R>(
        &self,
        workspace_id: Uuid,
        reader: R,
        mode: UploadMode,
    ) -> Result<UploadReport, Error>
    where
        R: AsyncRead + Send + 'static,
    {
        let stream = tokio_util::io::ReaderStream::new(reader);
        let body = std::sync::Mutex::new(Some(reqwest::Body::wrap_stream(stream)));
        self.upload_body(workspace_id, mode, "text/csv", body).await
    }

    /// `POST …/customers/upload` with a JSON array of customer objects.
    ///
    /// # Errors
    /// 400 for unknown fields or a body that is not an array of objects.
    pub async fn upload_json(
        &self,
        workspace_id: Uuid,
        customers: &[serde_json::Value],
        mode: UploadMode,
    ) -> Result<UploadReport, Error> {
        self.call(
            Auth::Bearer,
            &ep::UPLOAD_CUSTOMERS,
            &[&workspace_id],
            Some(&ModeQuery { mode }),
            Some(customers),
        )
        .await
    }

    async fn upload_body(
        &self,
        workspace_id: Uuid,
        mode: UploadMode,
        content_type: &'static str,
        body: std::sync::Mutex<Option<reqwest::Body>>,
    ) -> Result<UploadReport, Error> {
        let url_path = ep::UPLOAD_CUSTOMERS.fill(&[&workspace_id]);
        let response = self
            .execute(Auth::Bearer, |http, base| {
                // The first attempt takes the body; a second finds none and is not made.
                let body = body.lock().ok().and_then(|mut b| b.take());
                Ok(body.map(|body| {
                    http.post(format!("{base}{url_path}"))
                        .query(&ModeQuery { mode })
                        .header(CONTENT_TYPE, content_type)
                        .body(body)
                }))
            })
            .await?;
        decode(response).await
    }

    /// `GET …/customers`: one page, oldest first.
    ///
    /// # Errors
    /// 404 for a workspace the caller does not see; 403 without `customers:read`.
    pub async fn customers(
        &self,
        workspace_id: Uuid,
        filter: &CustomerFilter,
        page: &PageRequest,
    ) -> Result<Page<Customer>, Error> {
        self.call(
            Auth::Bearer,
            &ep::CUSTOMERS,
            &[&workspace_id],
            Some(&ListQuery { filter, page }),
            NO_BODY,
        )
        .await
    }

    /// Every customer matching `filter`, oldest first, `page_size` at a time by cursor.
    pub fn customers_stream(
        &self,
        workspace_id: Uuid,
        filter: CustomerFilter,
        page_size: i64,
    ) -> BoxStream<'static, Result<Customer, Error>> {
        let client = self.clone();
        every_item(page_size, move |page| {
            let client = client.clone();
            let filter = filter.clone();
            async move { client.customers(workspace_id, &filter, &page).await }
        })
    }

    /// `GET …/customers/pages`: how many customers and pages match `filter`.
    ///
    /// # Errors
    /// As [`Client::customers`].
    pub async fn customer_pages(
        &self,
        workspace_id: Uuid,
        filter: &CustomerFilter,
        page_size: Option<i64>,
    ) -> Result<PageCount, Error> {
        self.call(
            Auth::Bearer,
            &ep::CUSTOMER_PAGES,
            &[&workspace_id],
            Some(&PagesQuery { filter, page_size }),
            NO_BODY,
        )
        .await
    }

    /// `GET …/customers/{customer_id}`.
    ///
    /// # Errors
    /// 404 for no such customer here.
    pub async fn customer(&self, workspace_id: Uuid, customer_id: Uuid) -> Result<Customer, Error> {
        self.call(
            Auth::Bearer,
            &ep::CUSTOMER,
            &[&workspace_id, &customer_id],
            NO_QUERY,
            NO_BODY,
        )
        .await
    }

    /// `PATCH …/customers/{customer_id}`: a partial change.
    ///
    /// # Errors
    /// 400 naming invalid fields; 409 when another customer has the email or external id.
    pub async fn update_customer(
        &self,
        workspace_id: Uuid,
        customer_id: Uuid,
        changes: &CustomerChanges,
    ) -> Result<Customer, Error> {
        self.call(
            Auth::Bearer,
            &ep::UPDATE_CUSTOMER,
            &[&workspace_id, &customer_id],
            NO_QUERY,
            Some(changes),
        )
        .await
    }

    /// `DELETE …/customers/{customer_id}` (its campaign messages go with it).
    ///
    /// # Errors
    /// 404 for no such customer here.
    pub async fn delete_customer(
        &self,
        workspace_id: Uuid,
        customer_id: Uuid,
    ) -> Result<(), Error> {
        self.call_empty(
            &ep::DELETE_CUSTOMER,
            &[&workspace_id, &customer_id],
            NO_BODY,
        )
        .await
    }

    /// `PATCH …/customers`: many partial changes, each applied on its own.
    ///
    /// # Errors
    /// 400 over the server's bulk limit.
    pub async fn update_customers(
        &self,
        workspace_id: Uuid,
        updates: &[CustomerUpdate],
    ) -> Result<BulkUpdateReport, Error> {
        self.call(
            Auth::Bearer,
            &ep::BULK_UPDATE_CUSTOMERS,
            &[&workspace_id],
            NO_QUERY,
            Some(&BulkUpdateRequest { customers: updates }),
        )
        .await
    }

    /// `POST …/customers/bulk-delete`: ids that are not customers here are skipped.
    ///
    /// # Errors
    /// 400 over the server's bulk limit.
    pub async fn delete_customers(
        &self,
        workspace_id: Uuid,
        ids: &[Uuid],
    ) -> Result<BulkDeleteReport, Error> {
        self.call(
            Auth::Bearer,
            &ep::BULK_DELETE_CUSTOMERS,
            &[&workspace_id],
            NO_QUERY,
            Some(&IdsRequest { ids }),
        )
        .await
    }

    /// `POST …/customer-groups`.
    ///
    /// # Errors
    /// 409 for a name taken in the workspace.
    pub async fn create_group(&self, workspace_id: Uuid, group: &NewGroup) -> Result<Group, Error> {
        self.call(
            Auth::Bearer,
            &ep::CREATE_GROUP,
            &[&workspace_id],
            NO_QUERY,
            Some(group),
        )
        .await
    }

    /// `GET …/customer-groups`: one page, with member counts.
    ///
    /// # Errors
    /// 404 for a workspace the caller does not see.
    pub async fn groups(
        &self,
        workspace_id: Uuid,
        page: &PageRequest,
    ) -> Result<Page<Group>, Error> {
        self.call(
            Auth::Bearer,
            &ep::GROUPS,
            &[&workspace_id],
            Some(page),
            NO_BODY,
        )
        .await
    }

    /// Every group of the workspace.
    pub fn groups_stream(
        &self,
        workspace_id: Uuid,
        page_size: i64,
    ) -> BoxStream<'static, Result<Group, Error>> {
        let client = self.clone();
        every_item(page_size, move |page| {
            let client = client.clone();
            async move { client.groups(workspace_id, &page).await }
        })
    }

    /// `GET …/customer-groups/{group_id}`.
    ///
    /// # Errors
    /// 404 for no such group here.
    pub async fn group(&self, workspace_id: Uuid, group_id: Uuid) -> Result<Group, Error> {
        self.call(
            Auth::Bearer,
            &ep::GROUP,
            &[&workspace_id, &group_id],
            NO_QUERY,
            NO_BODY,
        )
        .await
    }

    /// `PATCH …/customer-groups/{group_id}`.
    ///
    /// # Errors
    /// 404 for no such group here; 409 for a name taken.
    pub async fn update_group(
        &self,
        workspace_id: Uuid,
        group_id: Uuid,
        changes: &GroupChanges,
    ) -> Result<Group, Error> {
        self.call(
            Auth::Bearer,
            &ep::UPDATE_GROUP,
            &[&workspace_id, &group_id],
            NO_QUERY,
            Some(changes),
        )
        .await
    }

    /// `DELETE …/customer-groups/{group_id}` (the customers stay).
    ///
    /// # Errors
    /// 404 for no such group here.
    pub async fn delete_group(&self, workspace_id: Uuid, group_id: Uuid) -> Result<(), Error> {
        self.call_empty(&ep::DELETE_GROUP, &[&workspace_id, &group_id], NO_BODY)
            .await
    }

    /// `POST …/customer-groups/{group_id}/members`: all or nothing.
    ///
    /// # Errors
    /// 400 listing ids that are not customers of the workspace.
    pub async fn add_group_members(
        &self,
        workspace_id: Uuid,
        group_id: Uuid,
        customer_ids: &[Uuid],
    ) -> Result<MembersAdded, Error> {
        self.call(
            Auth::Bearer,
            &ep::ADD_MEMBERS,
            &[&workspace_id, &group_id],
            NO_QUERY,
            Some(&MembersRequest { customer_ids }),
        )
        .await
    }

    /// `POST …/customer-groups/{group_id}/members/remove`.
    ///
    /// # Errors
    /// 404 for no such group here.
    pub async fn remove_group_members(
        &self,
        workspace_id: Uuid,
        group_id: Uuid,
        customer_ids: &[Uuid],
    ) -> Result<MembersRemoved, Error> {
        self.call(
            Auth::Bearer,
            &ep::REMOVE_MEMBERS,
            &[&workspace_id, &group_id],
            NO_QUERY,
            Some(&MembersRequest { customer_ids }),
        )
        .await
    }

    /// `POST …/profile-fields`.
    ///
    /// # Errors
    /// 400 for an invalid key or options; 409 for a key taken, or a new required field
    /// while customers exist.
    pub async fn create_profile_field(
        &self,
        workspace_id: Uuid,
        field: &NewProfileField,
    ) -> Result<ProfileField, Error> {
        self.call(
            Auth::Bearer,
            &ep::CREATE_PROFILE_FIELD,
            &[&workspace_id],
            NO_QUERY,
            Some(field),
        )
        .await
    }

    /// `GET …/profile-fields`.
    ///
    /// # Errors
    /// 404 for a workspace the caller does not see.
    pub async fn profile_fields(
        &self,
        workspace_id: Uuid,
        page: &PageRequest,
    ) -> Result<Page<ProfileField>, Error> {
        self.call(
            Auth::Bearer,
            &ep::PROFILE_FIELDS,
            &[&workspace_id],
            Some(page),
            NO_BODY,
        )
        .await
    }

    /// `PATCH …/profile-fields/{field_id}`.
    ///
    /// # Errors
    /// 409 when stored values would not fit the change.
    pub async fn update_profile_field(
        &self,
        workspace_id: Uuid,
        field_id: Uuid,
        changes: &ProfileFieldChanges,
    ) -> Result<ProfileField, Error> {
        self.call(
            Auth::Bearer,
            &ep::UPDATE_PROFILE_FIELD,
            &[&workspace_id, &field_id],
            NO_QUERY,
            Some(changes),
        )
        .await
    }

    /// `DELETE …/profile-fields/{field_id}`: the attribute leaves every customer.
    ///
    /// # Errors
    /// 404 for no such field here.
    pub async fn delete_profile_field(
        &self,
        workspace_id: Uuid,
        field_id: Uuid,
    ) -> Result<(), Error> {
        self.call_empty(
            &ep::DELETE_PROFILE_FIELD,
            &[&workspace_id, &field_id],
            NO_BODY,
        )
        .await
    }
}
