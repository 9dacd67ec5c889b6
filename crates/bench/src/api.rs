//! The few calls the bench makes to set itself up, over plain JSON.

use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

use crate::error::BenchError;

pub const PASSWORD: &str = "bench password 1";

/// A client of the server under test.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
}

impl Api {
    pub fn new(base: &str, connections: usize) -> Result<Self, BenchError> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(connections)
            .tcp_nodelay(true)
            .build()?;
        Ok(Self {
            http,
            base: base.to_owned(),
        })
    }

    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends and expects a 2xx with a JSON body (or none).
    pub async fn call(&self, request: RequestBuilder) -> Result<Value, BenchError> {
        let response = request.send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        if !status.is_success() {
            return Err(BenchError::Status(
                status.as_u16(),
                String::from_utf8_lossy(&body).chars().take(300).collect(),
            ));
        }
        if body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&body).map_err(|e| BenchError::Answer(e.to_string()))
    }

    pub async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Result<Value, BenchError> {
        self.call(self.request(Method::POST, path, token).json(body))
            .await
    }

    pub async fn get(&self, path: &str, token: &str) -> Result<Value, BenchError> {
        self.call(self.request(Method::GET, path, Some(token)))
            .await
    }

    /// Signs up a new account; returns (user id, workspace id).
    pub async fn signup(&self, email: &str) -> Result<(String, String), BenchError> {
        let signed = self
            .post(
                "/v1/signup",
                None,
                &json!({"email": email, "password": PASSWORD, "full_name": "Bench",
                        "account_name": format!("Bench {email}")}),
            )
            .await?;
        Ok((
            text(&signed["user"]["id"])?,
            text(&signed["workspace"]["id"])?,
        ))
    }

    /// Logs in (no MFA); returns the access token.
    pub async fn login(&self, email: &str) -> Result<String, BenchError> {
        let tokens = self
            .post(
                "/v1/auth/login",
                None,
                &json!({"email": email, "password": PASSWORD}),
            )
            .await?;
        text(&tokens["access_token"])
    }

    /// Exchanges an API key; returns (access token, refresh token).
    pub async fn exchange(&self, api_key: &str) -> Result<(String, String), BenchError> {
        let tokens = self
            .post("/v1/auth", None, &json!({"api_key": api_key}))
            .await?;
        Ok((
            text(&tokens["access_token"])?,
            text(&tokens["refresh_token"])?,
        ))
    }
}

/// A string field of an answer.
pub fn text(value: &Value) -> Result<String, BenchError> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| BenchError::Answer(format!("expected a string, got {value}")))
}
