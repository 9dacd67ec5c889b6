//! What the OpenAPI document says about the routes, used where actix-web alone answers wrongly:
//! a known path with a method it does not serve is a 405 with `Allow` (actix-web's per-method
//! services would fall through to a 404), and every operation lists the statuses that the
//! shared extractors can produce for it (400, 401, 404, 413, 415).

use actix_web::http::Method;
use actix_web::http::header::{ALLOW, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

/// One documented path template: literal segments and `{parameters}`, and its methods.
struct Template {
    segments: Vec<Option<String>>,
    methods: Vec<Method>,
}

/// Every documented path template, to tell "no such path" (404) from "not with this method"
/// (405).
pub struct KnownRoutes(Vec<Template>);

fn operations(item: &PathItem) -> Vec<(Method, &Operation)> {
    [
        (Method::GET, &item.get),
        (Method::PUT, &item.put),
        (Method::POST, &item.post),
        (Method::DELETE, &item.delete),
        (Method::OPTIONS, &item.options),
        (Method::HEAD, &item.head),
        (Method::PATCH, &item.patch),
        (Method::TRACE, &item.trace),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.as_ref().map(|o| (method, o)))
    .collect()
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

impl KnownRoutes {
    #[must_use]
    pub fn from_openapi(api: &OpenApi) -> Self {
        Self(
            api.paths
                .paths
                .iter()
                .map(|(path, item)| Template {
                    segments: path
                        .trim_matches('/')
                        .split('/')
                        .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
                        .collect(),
                    methods: operations(item).into_iter().map(|(m, _)| m).collect(),
                })
                .collect(),
        )
    }

    /// The methods of the most specific template matching `path` (literal segments beat
    /// parameters, as the router ranks them), if any template matches.
    fn methods_for(&self, path: &str) -> Option<&[Method]> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        self.0
            .iter()
            .filter(|t| {
                t.segments.len() == segments.len()
                    && t.segments
                        .iter()
                        .zip(&segments)
                        .all(|(t, s)| t.as_deref().is_none_or(|literal| literal == *s))
            })
            .max_by_key(|t| t.segments.iter().filter(|s| s.is_some()).count())
            .map(|t| t.methods.as_slice())
    }

    /// A 405 with `Allow` when the request's path is documented but not for its method.
    #[must_use]
    pub fn method_not_allowed(&self, request: &HttpRequest) -> Option<HttpResponse> {
        let methods = self.methods_for(request.path())?;
        if methods.contains(request.method()) {
            return None;
        }
        let allow = methods
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        let mut response = HttpResponse::MethodNotAllowed().finish();
        if let Ok(value) = HeaderValue::from_str(&allow) {
            response.headers_mut().insert(ALLOW, value);
        }
        Some(response)
    }

    /// What actix-web answers for a request no service took: 405 for a known path, else 404.
    #[must_use]
    pub fn fallback(&self, request: &HttpRequest) -> HttpResponse {
        self.method_not_allowed(request)
            .unwrap_or_else(|| HttpResponse::NotFound().finish())
    }
}

/// Adds to every operation the error statuses its extractors can answer with, so that the
/// document lists every status a client can see: a JSON body can be malformed (400), too large
/// (413) or of the wrong media type (415); a path parameter can be malformed (400) or name
/// nothing of the caller's (404); query parameters can be malformed (400); a protected
/// operation can be called without valid credentials (401).
pub fn document_extractor_errors(api: &mut OpenApi) {
    let error = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build(),
        )
    };
    for item in api.paths.paths.values_mut() {
        for operation in operations_mut(item) {
            let parameters = operation.parameters.as_deref().unwrap_or_default();
            let in_path = parameters
                .iter()
                .any(|p| matches!(p, RefOr::T(p) if matches!(p.parameter_in, ParameterIn::Path)));
            let in_query = parameters
                .iter()
                .any(|p| matches!(p, RefOr::T(p) if matches!(p.parameter_in, ParameterIn::Query)));
            let mut add = Vec::new();
            if operation.request_body.is_some() {
                add.push(("400", "The body is malformed or does not fit"));
                add.push(("413", "The body is too large"));
                add.push(("415", "The body is not of an accepted media type"));
            }
            if in_path || in_query {
                add.push(("400", "A parameter is malformed"));
            }
            if in_path {
                add.push(("404", "Not found (also for another tenant's objects)"));
            }
            if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
                add.push(("401", "Missing, invalid, expired or revoked credentials"));
            }
            for (status, description) in add {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| error(description));
            }
        }
    }
}
