//! The application factory: routes, extractor configuration, middleware, OpenAPI and docs.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpRequest, HttpResponse, web};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt as _;
use utoipa_swagger_ui::SwaggerUi;

use crate::error::ApiError;
use crate::known_routes::{KnownRoutes, document_extractor_errors};
use crate::observe::observe;
use crate::routes;
use crate::state::AppState;

pub const OPENAPI_PATH: &str = "/v1/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "NudgeScribe API",
        description = "Multi-tenant marketing backend: identity, tokens, customers and campaigns.",
    ),
    modifiers(&BearerAuth),
    // Referenced only from query parameters, which utoipa-actix-web does not collect.
    components(schemas(crate::wire::UploadMode)),
    tags(
        (name = "identity", description = "Accounts, users, sign-in"),
        (name = "workspaces", description = "Workspaces of the account"),
        (name = "tokens", description = "API keys, token exchange and refresh, logout, JWKS"),
        (name = "campaigns", description = "Campaigns, their encrypted messages, and the account-wide search"),
        (name = "customers", description = "Customers, uploads, groups and profile fields of a workspace"),
        (name = "operations", description = "Health and metrics"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The whole application, for `HttpServer::new` (one per worker) and for tests.
pub fn build_app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let json = web::JsonConfig::default()
        .limit(state.json_limit)
        .error_handler(|error, _| ApiError::from(error).into());
    let path = web::PathConfig::default().error_handler(|error, request| {
        // `PATCH …/customers/pages` reaches `PATCH …/customers/{customer_id}` with "pages" as
        // the id: the path is known, only the method is not.
        let refusal = request
            .app_data::<web::Data<KnownRoutes>>()
            .and_then(|routes| routes.method_not_allowed(request));
        match refusal {
            Some(response) => InternalError::from_response(error, response).into(),
            None => ApiError::BadRequest(format!("invalid path: {error}")).into(),
        }
    });
    let query = web::QueryConfig::default().error_handler(|error, _| {
        ApiError::BadRequest(format!("invalid query string: {error}")).into()
    });
    let (app, api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .app_data(state)
        .app_data(json)
        .app_data(path)
        .app_data(query)
        .service(routes::health::live)
        .service(routes::health::ready)
        .service(routes::health::metrics)
        .service(routes::jwks::jwks)
        .service(routes::identity::signup)
        .service(routes::identity::login)
        .service(routes::identity::me)
        .service(routes::account::change_password)
        .service(routes::account::audit_events)
        .service(routes::account::request_reset)
        .service(routes::account::confirm_reset)
        .service(routes::account::login_mfa)
        .service(routes::account::totp_setup)
        .service(routes::account::totp_activate)
        .service(routes::account::totp_disable)
        .service(routes::users::list)
        .service(routes::users::assign_roles)
        .service(routes::users::remove)
        .service(routes::users::invite)
        .service(routes::users::accept_invitation)
        .service(routes::workspaces::list)
        .service(routes::workspaces::create)
        .service(routes::workspaces::show)
        .service(routes::workspaces::rename)
        .service(routes::workspaces::remove)
        .service(routes::tokens::exchange)
        .service(routes::tokens::reauthenticate)
        .service(routes::tokens::refresh)
        .service(routes::tokens::short_lived)
        .service(routes::tokens::logout)
        .service(routes::tokens::create_key)
        .service(routes::tokens::list_keys)
        .service(routes::tokens::delete_key)
        .service(routes::credentials::account_keys)
        .service(routes::credentials::revoke_account_key)
        .service(routes::credentials::sessions)
        .service(routes::credentials::end_session)
        .service(routes::credentials::verify_email)
        .service(routes::credentials::resend_verification)
        // `pages` before `{campaign_id}`, which would otherwise match it.
        .service(routes::campaigns::pages)
        .service(routes::campaigns::create)
        .service(routes::campaigns::list)
        .service(routes::campaigns::show)
        .service(routes::campaigns::update)
        .service(routes::campaigns::remove)
        .service(routes::campaigns::search)
        .service(routes::campaigns::search_pages)
        .service(routes::messages::publish)
        .service(routes::messages::retrieve)
        .service(routes::messages::pages)
        // `pages` and `upload` before `{customer_id}`.
        .service(routes::customers::pages)
        .service(routes::customer_upload::upload)
        .service(routes::customers::remove_many)
        .service(routes::customers::list)
        .service(routes::customers::update_many)
        .service(routes::customers::show)
        .service(routes::customers::update)
        .service(routes::customers::remove)
        .service(routes::customer_groups::create)
        .service(routes::customer_groups::list)
        .service(routes::customer_groups::show)
        .service(routes::customer_groups::update)
        .service(routes::customer_groups::remove)
        .service(routes::customer_groups::add_members)
        .service(routes::customer_groups::remove_members)
        .service(routes::profile_fields::create)
        .service(routes::profile_fields::list)
        .service(routes::profile_fields::update)
        .service(routes::profile_fields::remove)
        .split_for_parts();
    let mut api = api;
    document_extractor_errors(&mut api);
    let routes = web::Data::new(KnownRoutes::from_openapi(&api));
    app.app_data(routes.clone())
        .service(SwaggerUi::new("/docs/{_:.*}").url(OPENAPI_PATH, api))
        .route(
            "/docs",
            web::get().to(|| async {
                HttpResponse::PermanentRedirect()
                    .insert_header(("Location", "/docs/"))
                    .finish()
            }),
        )
        .default_service(web::to(move |request: HttpRequest| {
            let routes = routes.clone();
            async move { routes.fallback(&request) }
        }))
        .wrap(from_fn(observe))
        .wrap(from_fn(crate::headers::security_headers))
}
