//! Workloads #7 and #8: publishing and retrieving campaign messages.

use super::*;

/// A worker walking a campaign's messages page by page, by cursor, starting over at the end.
pub(super) struct RetrieveWalk {
    api: Api,
    path: String,
    token: String,
    cursor: Option<String>,
}

impl Call for RetrieveWalk {
    async fn call(&mut self) -> Result<u64> {
        let mut body = json!({"page_size": MESSAGES_PER_PAGE});
        match &self.cursor {
            Some(cursor) => body["cursor"] = json!(cursor),
            None => body["page"] = json!(1),
        }
        let page = self
            .api
            .call(
                self.api
                    .request(Method::POST, &self.path, Some(&self.token))
                    .json(&body),
            )
            .await?;
        self.cursor = page["next_cursor"].as_str().map(str::to_owned);
        Ok(page["items"].as_array().map_or(0, Vec::len) as u64)
    }
}

pub(super) async fn messages(
    plan: &Plan,
    api: &Api,
    ids: &Identities,
    content: &Content,
    figures: &mut RunFigures,
) -> Result<()> {
    let (workspace, campaign) = (&content.workspace, &content.campaign);
    let tokens = access_tokens(api, ids, plan.batch_concurrency).await?;
    let batch: Vec<Value> = (0..MESSAGES_PER_BATCH)
        .map(|n| {
            let customer = &content.customer_ids[n as usize % content.customer_ids.len()];
            json!({
                "customer_id": customer,
                "subject": "Your November offer",
                "body": format!("Hello! Message {n}: twenty percent off everything in the shop this week, \
                                 with free delivery on orders over fifty."),
                "metadata": {"n": n, "variant": "b"},
            })
        })
        .collect();
    let body = json_body(&json!({"messages": batch}));
    let publish_path = format!("/v1/workspaces/{workspace}/campaigns/{campaign}/messages/publish");
    let publishers = (0..plan.batch_concurrency)
        .map(|w| {
            let (api, body, path) = (api.clone(), body.clone(), publish_path.clone());
            let token = tokens[w].clone();
            Repeat::counting(
                move || post_json(&api, &path, Some(&token), &body),
                MESSAGES_PER_BATCH,
            )
        })
        .collect();
    note(
        figures,
        "publish",
        &closed_loop(publishers, plan.duration).await?,
    );
    let retrieve_path =
        format!("/v1/workspaces/{workspace}/campaigns/{campaign}/messages/retrieve");
    let readers = (0..plan.batch_concurrency)
        .map(|w| RetrieveWalk {
            api: api.clone(),
            path: retrieve_path.clone(),
            token: tokens[w].clone(),
            cursor: None,
        })
        .collect();
    note(
        figures,
        "retrieve",
        &closed_loop(readers, plan.duration).await?,
    );
    Ok(())
}
