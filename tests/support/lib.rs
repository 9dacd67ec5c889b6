//! Test support: the real application on a random port, on a database of its own.

use app::{Application, Settings};
use kernel::SealingKey;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use testdb::TestDatabase;

pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// A running server. Dropping it drops its database.
pub struct TestApp {
    pub address: String,
    pub client: Client,
    pub database: TestDatabase,
}

/// Starts the application as `nudgescribe serve` would, with test-sized settings: bcrypt at
/// its lowest cost, a random master key, port 0.
pub async fn spawn_app() -> Result<TestApp, Error> {
    let database = TestDatabase::new(postgres::MIGRATIONS).await?;
    let mut settings = Settings::load(None)?;
    settings.database.url = database.url().to_owned();
    settings.database.max_connections = 4;
    settings.server.host = "127.0.0.1".into();
    settings.server.port = 0;
    settings.server.workers = 1;
    settings.auth.bcrypt_cost = 4;
    settings.keys.master_key = Some(SealingKey::generate_base64()?);
    let application = Application::build(settings).await?;
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    Ok(TestApp {
        address,
        client: Client::new(),
        database,
    })
}

pub struct Signed {
    pub body: Value,
    pub email: String,
    pub password: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Response, Error> {
        Ok(self.client.post(self.url(path)).json(body).send().await?)
    }

    pub async fn get_authed(&self, path: &str, token: &str) -> Result<Response, Error> {
        Ok(self
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await?)
    }

    /// Signs a new account up; panics unless it answers 201.
    pub async fn signup(&self, email: &str) -> Result<Signed, Error> {
        let password = "correct horse battery".to_owned();
        let response = self
            .post_json(
                "/v1/signup",
                &json!({
                    "email": email,
                    "password": password,
                    "full_name": "Ada Lovelace",
                    "account_name": format!("Account of {email}"),
                }),
            )
            .await?;
        assert_eq!(response.status(), StatusCode::CREATED);
        Ok(Signed {
            body: response.json().await?,
            email: email.to_owned(),
            password,
        })
    }

    /// Logs in; returns the token response.
    pub async fn login(&self, email: &str, password: &str) -> Result<Value, Error> {
        let response = self
            .post_json(
                "/v1/auth/login",
                &json!({"email": email, "password": password}),
            )
            .await?;
        assert_eq!(response.status(), StatusCode::OK);
        Ok(response.json().await?)
    }
}

/// Asserts the api.md error shape and returns the body.
pub async fn expect_error(
    response: Response,
    status: StatusCode,
    code: &str,
) -> Result<Value, Error> {
    assert_eq!(response.status(), status);
    let header_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Value = response.json().await?;
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    assert_eq!(
        body["request_id"].as_str().map(str::to_owned),
        header_id,
        "{body}"
    );
    Ok(body)
}
