//! Workloads #3–#5: authenticated reads, lists and logins.

use super::*;

/// `GET …/customers/{id}` over the sample of ids, each worker with its own token.
pub(super) fn read_workers(
    api: &Api,
    tokens: &[String],
    content: &Content,
    count: usize,
) -> Vec<impl Call> {
    let customer_ids: Arc<[String]> = content.customer_ids.clone().into();
    (0..count)
        .map(|w| {
            let api = api.clone();
            let token = tokens[w % tokens.len()].clone();
            let ids = Arc::clone(&customer_ids);
            let workspace = content.workspace.clone();
            let mut n = w * 7;
            Repeat::new(move || {
                n = (n + 1) % ids.len();
                api.request(
                    Method::GET,
                    &format!("/v1/workspaces/{workspace}/customers/{}", ids[n]),
                    Some(&token),
                )
            })
        })
        .collect()
}

pub(super) fn list_workers(
    api: &Api,
    tokens: &[String],
    path: &str,
    count: usize,
) -> Vec<impl Call> {
    (0..count)
        .map(|w| {
            let api = api.clone();
            let token = tokens[w % tokens.len()].clone();
            let path = path.to_owned();
            Repeat::new(move || api.request(Method::GET, &path, Some(&token)))
        })
        .collect()
}

pub(super) async fn reads(
    plan: &Plan,
    api: &Api,
    ids: &Identities,
    content: &Content,
    figures: &mut RunFigures,
) -> Result<()> {
    let tokens = access_tokens(api, ids, plan.concurrency).await?;
    let read = read_workers(api, &tokens, content, plan.concurrency);
    note(figures, "read", &closed_loop(read, plan.duration).await?);
    let me = list_workers(api, &tokens, "/v1/me", plan.concurrency);
    note(figures, "me", &closed_loop(me, plan.duration).await?);
    let workspace = &content.workspace;
    let first = list_workers(
        api,
        &tokens,
        &format!("/v1/workspaces/{workspace}/customers?page=1&page_size=50"),
        plan.concurrency,
    );
    note(
        figures,
        "list-first",
        &closed_loop(first, plan.duration).await?,
    );
    let deep = list_workers(
        api,
        &tokens,
        &format!(
            "/v1/workspaces/{workspace}/customers?page_size=50&cursor={}",
            content.deep_cursor
        ),
        plan.concurrency,
    );
    note(
        figures,
        "list-deep",
        &closed_loop(deep, plan.duration).await?,
    );
    figures.set("deep-page", content.deep_page as f64);
    Ok(())
}

pub(super) async fn logins(
    plan: &Plan,
    api: &Api,
    ids: &Identities,
    content: &Content,
    figures: &mut RunFigures,
) -> Result<()> {
    let login_workers = || {
        (0..plan.concurrency)
            .map(|w| {
                let api = api.clone();
                let body = json_body(&json!({
                    "email": ids.login_emails[w % ids.login_emails.len()],
                    "password": PASSWORD,
                }));
                Repeat::new(move || post_json(&api, "/v1/auth/login", None, &body))
            })
            .collect::<Vec<_>>()
    };
    note(
        figures,
        "login",
        &closed_loop(login_workers(), plan.duration).await?,
    );

    // #3 at a modest fixed rate, first alone, then while logins saturate the hashing.
    let probes = 8.min(plan.concurrency);
    let tokens = access_tokens(api, ids, probes).await?;
    let idle = open_loop(
        read_workers(api, &tokens, content, probes),
        plan.probe_rate,
        plan.duration,
    )
    .await?;
    figures.set("read-p99-idle", idle.latency_ms(0.99));
    note_errors(figures, "read-idle", &idle);
    let (loaded, saturating) = tokio::join!(
        open_loop(
            read_workers(api, &tokens, content, probes),
            plan.probe_rate,
            plan.duration
        ),
        closed_loop(login_workers(), plan.duration),
    );
    let (loaded, saturating) = (loaded?, saturating?);
    figures.set("read-p99-under-login", loaded.latency_ms(0.99));
    note_errors(figures, "read-under-login", &loaded);
    note_errors(figures, "login-saturating", &saturating);
    progress(format_args!(
        "#3 p99 at {} req/s: idle {:.2} ms, under {:.1} logins/s {:.2} ms",
        plan.probe_rate,
        idle.latency_ms(0.99),
        saturating.items_per_sec(),
        loaded.latency_ms(0.99)
    ));
    Ok(())
}
