//! Test support: the real application on a random port, on a database of its own.
#![allow(
    clippy::disallowed_methods,
    reason = "tests start from the real time, or wait for it"
)]

pub mod smtp;
pub mod totp;

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
    /// The settings the server runs with (for operator commands against its database).
    pub settings: Settings,
    pub database: TestDatabase,
}

/// Starts the application as `nudgescribe serve` would, with test-sized settings: bcrypt at
/// its lowest cost, a random master key, port 0.
pub async fn spawn_app() -> Result<TestApp, Error> {
    spawn_app_with(|_| {}).await
}

/// [`spawn_app`], with the settings adjusted by `adjust` first.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> Result<TestApp, Error> {
    let database = TestDatabase::new(postgres::MIGRATIONS).await?;
    let mut settings = Settings::load(None)?;
    settings.database.url = database.url().into();
    settings.database.max_connections = 4;
    settings.server.host = "127.0.0.1".into();
    settings.server.port = 0;
    settings.server.workers = 1;
    settings.auth.bcrypt_cost = 4;
    settings.keys.master_key = Some(SealingKey::generate_base64()?.into());
    settings.keys.message_master_keys = Some(SealingKey::generate_base64()?.into());
    // Every test client signs in from 127.0.0.1; tests of the limit set it back.
    settings.rate_limits.signin_per_ip_per_minute = 1000;
    settings.rate_limits.signup_per_ip_per_hour = 10_000;
    settings.rate_limits.invitations_per_account_per_hour = 10_000;
    adjust(&mut settings);
    let application = Application::build(settings.clone()).await?;
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    Ok(TestApp {
        address,
        client: Client::new(),
        settings,
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
        let body: Value = response.json().await?;
        self.mark_email_verified(body["user"]["id"].as_str().ok_or("user id")?)
            .await?;
        Ok(Signed {
            body,
            email: email.to_owned(),
            password,
        })
    }

    /// Marks a user's address verified, as the emailed code would (tests of verification
    /// itself read the code from an SMTP sink instead).
    pub async fn mark_email_verified(&self, user_id: &str) -> Result<(), Error> {
        use diesel_async::RunQueryDsl as _;
        let db = postgres::Db::connect(self.database.url(), &postgres::PoolSettings::default())?;
        let mut tx = db.system().await?;
        diesel::sql_query("UPDATE users SET email_verified_at = now() WHERE id = $1::uuid")
            .bind::<diesel::sql_types::Text, _>(user_id)
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(())
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

/// A signed-up account whose owner has given themselves the developer role.
pub struct Developer {
    pub signed: Signed,
    pub user_id: String,
    pub access_token: String,
}

impl TestApp {
    /// Signs up, logs in, and assigns the owner the developer role (the "User Role screen").
    pub async fn developer(&self, email: &str) -> Result<Developer, Error> {
        let signed = self.signup(email).await?;
        let tokens = self.login(email, &signed.password).await?;
        let access_token = tokens["access_token"]
            .as_str()
            .ok_or("access token")?
            .to_owned();
        let user_id = signed.body["user"]["id"]
            .as_str()
            .ok_or("user id")?
            .to_owned();
        self.set_account_roles(&access_token, &user_id, &["developer"])
            .await?;
        Ok(Developer {
            signed,
            user_id,
            access_token,
        })
    }

    pub async fn set_account_roles(
        &self,
        token: &str,
        user_id: &str,
        roles: &[&str],
    ) -> Result<(), Error> {
        let response = self
            .client
            .put(self.url(&format!("/v1/users/{user_id}/roles")))
            .bearer_auth(token)
            .json(&json!({"account_roles": roles, "workspace_roles": []}))
            .send()
            .await?;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{}",
            response.text().await?
        );
        Ok(())
    }

    /// Creates an API key; returns (key id, plaintext key).
    pub async fn create_key(&self, token: &str, body: Value) -> Result<(String, String), Error> {
        let response = self
            .client
            .post(self.url("/v1/auth/keys"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await?;
        assert_eq!(response.status(), StatusCode::CREATED);
        let created: Value = response.json().await?;
        Ok((
            created["key_id"].as_str().ok_or("key_id")?.to_owned(),
            created["api_key"].as_str().ok_or("api_key")?.to_owned(),
        ))
    }

    /// `POST /v1/auth` with a key; returns the response.
    pub async fn exchange(
        &self,
        api_key: &str,
        scopes: Option<&[&str]>,
    ) -> Result<Response, Error> {
        let mut body = json!({"api_key": api_key});
        if let Some(scopes) = scopes {
            body["scopes"] = json!(scopes);
        }
        self.post_json("/v1/auth", &body).await
    }

    /// Rows of the audit trail (as the database owner sees them), oldest first.
    pub async fn audit_events(
        &self,
    ) -> Result<Vec<(String, bool, Option<String>, Option<String>)>, Error> {
        use diesel_async::RunQueryDsl as _;
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            event: String,
            #[diesel(sql_type = diesel::sql_types::Bool)]
            success: bool,
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
            client_id: Option<String>,
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
            ip: Option<String>,
        }
        let db = postgres::Db::connect(self.database.url(), &postgres::PoolSettings::default())?;
        let mut tx = db.system().await?;
        let rows = diesel::sql_query(
            "SELECT event, success, client_id::text AS client_id, host(ip) AS ip FROM auth_events ORDER BY at, id",
        )
        .load::<Row>(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.event, r.success, r.client_id, r.ip))
            .collect())
    }
}

/// Rate limits count in one-minute windows aligned to the clock: a test that must stay inside
/// one window waits, when the current one is nearly over, for the next to begin.
pub async fn early_in_a_minute() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let into_minute = now.as_millis() % 60_000;
    if into_minute > 40_000 {
        let wait = u64::try_from(60_000 - into_minute).unwrap_or(0) + 100;
        tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
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

impl TestApp {
    /// Each audit row's event name and `detail` (as the database owner sees them), oldest first.
    pub async fn audit_details(&self) -> Result<Vec<(String, Value)>, Error> {
        use diesel_async::RunQueryDsl as _;
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            event: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            detail: String,
        }
        let db = postgres::Db::connect(self.database.url(), &postgres::PoolSettings::default())?;
        let mut tx = db.system().await?;
        let rows = diesel::sql_query(
            "SELECT event, detail::text AS detail FROM auth_events ORDER BY at, id",
        )
        .load::<Row>(tx.conn())
        .await?;
        tx.commit().await?;
        rows.into_iter()
            .map(|r| Ok((r.event, serde_json::from_str(&r.detail)?)))
            .collect()
    }
}
