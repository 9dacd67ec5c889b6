//! Workloads #1 and #2: key exchange and refresh rotation.

use super::*;

/// `POST /v1/auth` with worker `w`'s key.
pub(super) fn auth_workers(api: &Api, ids: &Identities, count: usize) -> Vec<impl Call> {
    (0..count)
        .map(|w| {
            let api = api.clone();
            let body = json_body(&json!({"api_key": ids.api_keys[w % ids.api_keys.len()]}));
            Repeat::new(move || post_json(&api, "/v1/auth", None, &body))
        })
        .collect()
}

/// A worker that refreshes its own session again and again, always with the newest token.
pub(super) struct RefreshChain {
    api: Api,
    refresh_token: String,
}

impl Call for RefreshChain {
    async fn call(&mut self) -> Result<u64> {
        let body = json_body(&json!({"refresh_token": self.refresh_token}));
        let tokens = self
            .api
            .call(post_json(&self.api, "/v1/auth/refresh", None, &body))
            .await?;
        self.refresh_token = text(&tokens["refresh_token"])?;
        Ok(1)
    }
}

pub(super) async fn refresh_workers(
    api: &Api,
    ids: &Identities,
    count: usize,
) -> Result<Vec<RefreshChain>> {
    let mut chains = Vec::with_capacity(count);
    for w in 0..count {
        let (_, refresh_token) = api.exchange(&ids.api_keys[w % ids.api_keys.len()]).await?;
        chains.push(RefreshChain {
            api: api.clone(),
            refresh_token,
        });
    }
    Ok(chains)
}

pub(super) async fn tokens(
    plan: &Plan,
    api: &Api,
    ids: &Identities,
    figures: &mut RunFigures,
) -> Result<()> {
    let auth = auth_workers(api, ids, plan.concurrency);
    note(figures, "auth", &closed_loop(auth, plan.duration).await?);
    let chains = refresh_workers(api, ids, plan.concurrency).await?;
    note(
        figures,
        "refresh",
        &closed_loop(chains, plan.duration).await?,
    );
    Ok(())
}

/// Access tokens fresh from key exchanges, one per worker.
pub(super) async fn access_tokens(
    api: &Api,
    ids: &Identities,
    count: usize,
) -> Result<Vec<String>> {
    let mut tokens = Vec::with_capacity(count);
    for w in 0..count {
        tokens.push(api.exchange(&ids.api_keys[w % ids.api_keys.len()]).await?.0);
    }
    Ok(tokens)
}
