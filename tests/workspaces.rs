//! Workspaces and user removal over HTTP, with tenant isolation: another account's ids are 404.

use nudgescribe_e2e::{Error, TestApp, TestResult, expect_error, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

struct Owner {
    token: String,
    user_id: String,
    default_workspace: String,
}

async fn owner(app: &TestApp, email: &str) -> Result<Owner, Error> {
    let signed = app.signup(email).await?;
    let tokens = app.login(email, &signed.password).await?;
    Ok(Owner {
        token: tokens["access_token"].as_str().ok_or("token")?.to_owned(),
        user_id: signed.body["user"]["id"].as_str().ok_or("user")?.to_owned(),
        default_workspace: signed.body["workspace"]["id"]
            .as_str()
            .ok_or("workspace")?
            .to_owned(),
    })
}

#[tokio::test]
async fn an_owner_manages_workspaces() -> TestResult {
    let app = spawn_app().await?;
    let ada = owner(&app, "ada@example.com").await?;
    let listed: Value = app
        .get_authed("/v1/workspaces", &ada.token)
        .await?
        .json()
        .await?;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(listed["total_items"], 1);
    assert_eq!(listed["items"][0]["id"], ada.default_workspace.as_str());

    let created = app
        .client
        .post(app.url("/v1/workspaces"))
        .bearer_auth(&ada.token)
        .json(&json!({"name": "Newsletter"}))
        .send()
        .await?;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await?;
    let id = created["id"].as_str().ok_or("id")?.to_owned();
    assert_eq!(created["name"], "Newsletter");

    let second_page: Value = app
        .get_authed("/v1/workspaces?page_size=1&page=2", &ada.token)
        .await?
        .json()
        .await?;
    assert_eq!(second_page["items"][0]["id"], id.as_str());
    assert_eq!(
        (
            second_page["total_items"].as_i64(),
            second_page["total_pages"].as_i64()
        ),
        (Some(2), Some(2))
    );
    let bad = app
        .get_authed("/v1/workspaces?page_size=0", &ada.token)
        .await?;
    expect_error(bad, StatusCode::BAD_REQUEST, "bad_request").await?;

    let renamed: Value = app
        .client
        .patch(app.url(&format!("/v1/workspaces/{id}")))
        .bearer_auth(&ada.token)
        .json(&json!({"name": "Newsletter EU"}))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(renamed["name"], "Newsletter EU");
    let shown: Value = app
        .get_authed(&format!("/v1/workspaces/{id}"), &ada.token)
        .await?
        .json()
        .await?;
    assert_eq!(shown["name"], "Newsletter EU");

    let empty = app
        .client
        .post(app.url("/v1/workspaces"))
        .bearer_auth(&ada.token)
        .json(&json!({"name": " "}))
        .send()
        .await?;
    expect_error(empty, StatusCode::BAD_REQUEST, "validation_failed").await?;

    let deleted = app
        .client
        .delete(app.url(&format!("/v1/workspaces/{id}")))
        .bearer_auth(&ada.token)
        .send()
        .await?;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = app
        .get_authed(&format!("/v1/workspaces/{id}"), &ada.token)
        .await?;
    expect_error(gone, StatusCode::NOT_FOUND, "not_found").await?;
    Ok(())
}

#[tokio::test]
async fn another_accounts_workspaces_and_users_are_not_found() -> TestResult {
    let app = spawn_app().await?;
    let ada = owner(&app, "ada@example.com").await?;
    let eve = owner(&app, "eve@example.com").await?;
    let path = format!("/v1/workspaces/{}", ada.default_workspace);

    let shown = app.get_authed(&path, &eve.token).await?;
    expect_error(shown, StatusCode::NOT_FOUND, "not_found").await?;
    let renamed = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&eve.token)
        .json(&json!({"name": "Mine now"}))
        .send()
        .await?;
    expect_error(renamed, StatusCode::NOT_FOUND, "not_found").await?;
    let deleted = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&eve.token)
        .send()
        .await?;
    expect_error(deleted, StatusCode::NOT_FOUND, "not_found").await?;

    let roles = app
        .client
        .put(app.url(&format!("/v1/users/{}/roles", ada.user_id)))
        .bearer_auth(&eve.token)
        .json(&json!({"account_roles": ["admin"]}))
        .send()
        .await?;
    expect_error(roles, StatusCode::NOT_FOUND, "not_found").await?;
    let borrowed = app
        .client
        .put(app.url(&format!("/v1/users/{}/roles", eve.user_id)))
        .bearer_auth(&eve.token)
        .json(&json!({"account_roles": [], "workspace_roles": [{"workspace_id": ada.default_workspace, "role": "manager"}]}))
        .send()
        .await?;
    expect_error(borrowed, StatusCode::NOT_FOUND, "not_found").await?;
    let removed = app
        .client
        .delete(app.url(&format!("/v1/users/{}", ada.user_id)))
        .bearer_auth(&eve.token)
        .send()
        .await?;
    expect_error(removed, StatusCode::NOT_FOUND, "not_found").await?;
    let users: Value = app
        .get_authed("/v1/users", &eve.token)
        .await?
        .json()
        .await?;
    assert_eq!(
        users["items"].as_array().map(Vec::len),
        Some(1),
        "only eve: {users}"
    );
    assert_eq!(users["total_items"], 1);

    // Ada's data is unchanged.
    let still: Value = app.get_authed(&path, &ada.token).await?.json().await?;
    assert_eq!(still["name"], "Default");
    let me: Value = app.get_authed("/v1/me", &ada.token).await?.json().await?;
    assert_eq!(me["account_roles"], json!(["owner"]));
    Ok(())
}

#[tokio::test]
async fn the_last_owner_stays() -> TestResult {
    let app = spawn_app().await?;
    let ada = owner(&app, "ada@example.com").await?;
    let response = app
        .client
        .delete(app.url(&format!("/v1/users/{}", ada.user_id)))
        .bearer_auth(&ada.token)
        .send()
        .await?;
    expect_error(response, StatusCode::CONFLICT, "conflict").await?;
    let owner_role = app
        .client
        .put(app.url(&format!("/v1/users/{}/roles", ada.user_id)))
        .bearer_auth(&ada.token)
        .json(&json!({"account_roles": ["owner"]}))
        .send()
        .await?;
    expect_error(owner_role, StatusCode::BAD_REQUEST, "validation_failed").await?;
    Ok(())
}
