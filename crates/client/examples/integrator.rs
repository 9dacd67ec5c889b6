//! An integration in a page: exchange an API key, upload customers from a CSV file, create a
//! campaign, publish a message to every customer, and read the messages back.
//!
//! ```sh
//! NUDGESCRIBE_URL=http://127.0.0.1:8080 NUDGESCRIBE_API_KEY=ns_live_… \
//!     cargo run -p nudgescribe-client --example integrator -- [WORKSPACE_ID] [CSV_FILE]
//! ```
//!
//! Without a workspace id it uses the first workspace the key's owner sees; without a CSV file,
//! it writes a small one of its own. The server's test suite runs [`run`] against a fresh
//! server, so this example keeps working.
#![allow(
    clippy::disallowed_methods,
    reason = "a harness: it measures and waits on real time"
)]

use std::path::PathBuf;

use futures_util::TryStreamExt as _;
use nudgescribe_client::Client;
use nudgescribe_client::types::{
    CampaignChanges, CampaignStatus, Channel, CustomerFilter, MessageQuery, NewCampaign,
    NewMessage, PageRequest, UploadMode,
};
use uuid::Uuid;

/// What the example needs to run.
pub struct Config {
    /// e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    /// `ns_live_…`, from `POST /v1/auth/keys`.
    pub api_key: String,
    /// The workspace to work in; `None`: the first one the key's owner sees.
    pub workspace_id: Option<Uuid>,
    /// A CSV file of customers; `None`: a small one is written to the temp directory.
    pub csv: Option<PathBuf>,
}

/// What the run did, for printing (and for the test that runs it).
#[derive(Debug)]
pub struct Summary {
    /// The workspace used.
    pub workspace_id: Uuid,
    /// Rows of the CSV file.
    pub uploaded_rows: u64,
    /// Customers in the workspace after the upload.
    pub customers: usize,
    /// The campaign created.
    pub campaign_id: Uuid,
    /// Messages published.
    pub published: usize,
    /// Messages read back (decrypted).
    pub retrieved: usize,
}

/// The integration itself.
///
/// # Errors
/// Whatever call fails first (`nudgescribe_client::Error` carries the server's code and
/// request id).
pub async fn run(config: &Config) -> Result<Summary, Box<dyn std::error::Error + Send + Sync>> {
    // One exchange; from here on the client renews its own tokens.
    let client = Client::with_api_key(&config.base_url, config.api_key.clone()).await?;
    let me = client.me().await?;
    say(&format!(
        "signed in as {} ({})",
        me.user.email, me.account.name
    ));

    let workspace_id = match config.workspace_id {
        Some(id) => id,
        None => {
            let page = client.workspaces(&PageRequest::number(1, 1)).await?;
            page.items
                .first()
                .map(|w| w.id)
                .ok_or("the key's owner sees no workspace")?
        }
    };

    let csv = match &config.csv {
        Some(path) => path.clone(),
        None => {
            let path =
                std::env::temp_dir().join(format!("nudgescribe-example-{}.csv", Uuid::now_v7()));
            std::fs::write(
                &path,
                "external_id,email,first_name,last_name\n\
                 ex-1,ada@example.com,Ada,Lovelace\n\
                 ex-2,grace@example.com,Grace,Hopper\n\
                 ex-3,edsger@example.com,Edsger,Dijkstra\n",
            )?;
            path
        }
    };
    let report = client
        .upload_csv_file(workspace_id, &csv, UploadMode::Upsert)
        .await?;
    if config.csv.is_none() {
        let _ = std::fs::remove_file(&csv);
    }
    say(&format!(
        "uploaded {} rows: {} created, {} updated, {} invalid",
        report.total_rows, report.created, report.updated, report.invalid_rows
    ));

    let customers: Vec<_> = client
        .customers_stream(workspace_id, CustomerFilter::default(), 100)
        .try_collect()
        .await?;

    let campaign = client
        .create_campaign(
            workspace_id,
            &NewCampaign {
                name: format!("Welcome {}", chrono::Utc::now().format("%Y-%m-%d %H:%M:%S")),
                description: Some("Sent by the integrator example".into()),
                channel: Channel::Email,
                group_ids: vec![],
            },
        )
        .await?;
    client
        .update_campaign(
            workspace_id,
            campaign.id,
            &CampaignChanges {
                status: Some(CampaignStatus::Active),
                ..CampaignChanges::default()
            },
        )
        .await?;
    say(&format!("campaign {} is active", campaign.id));

    let messages: Vec<NewMessage> = customers
        .iter()
        .map(|customer| NewMessage {
            customer_id: customer.id,
            subject: Some("Welcome".into()),
            body: format!(
                "Hello {}, welcome aboard!",
                customer.first_name.as_deref().unwrap_or("there")
            ),
            metadata: Some(serde_json::json!({"source": "integrator example"})),
        })
        .collect();
    let mut published = 0;
    // The server takes at most 1,000 messages a call.
    for batch in messages.chunks(1000) {
        published += client
            .publish_messages(workspace_id, campaign.id, batch)
            .await?
            .published;
    }
    say(&format!("published {published} messages"));

    let retrieved: Vec<_> = client
        .messages_stream(workspace_id, campaign.id, MessageQuery::default(), 100)
        .try_collect()
        .await?;
    if let Some(first) = retrieved.first() {
        say(&format!(
            "first message: {:?} / {}",
            first.subject, first.body
        ));
    }
    say(&format!("retrieved {} messages", retrieved.len()));

    Ok(Summary {
        workspace_id,
        uploaded_rows: report.total_rows,
        customers: customers.len(),
        campaign_id: campaign.id,
        published,
        retrieved: retrieved.len(),
    })
}

#[allow(clippy::print_stdout)]
fn say(line: &str) {
    println!("{line}");
}

/// Reads the configuration from the environment and the arguments.
fn config_from_env() -> Result<Config, String> {
    let base_url =
        std::env::var("NUDGESCRIBE_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let api_key = std::env::var("NUDGESCRIBE_API_KEY")
        .map_err(|_| "set NUDGESCRIBE_API_KEY to an API key (ns_live_…)".to_owned())?;
    let mut args = std::env::args().skip(1);
    let workspace_id = args
        .next()
        .map(|id| id.parse::<Uuid>().map_err(|e| format!("workspace id: {e}")))
        .transpose()?;
    let csv = args.next().map(PathBuf::from);
    Ok(Config {
        base_url,
        api_key,
        workspace_id,
        csv,
    })
}

#[allow(dead_code)] // The test suite includes this file as a module and calls `run`.
#[tokio::main]
async fn main() -> std::process::ExitCode {
    let outcome = match config_from_env() {
        Ok(config) => run(&config).await.map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(summary) => {
            say(&format!("done: {summary:?}"));
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("error: {error}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}
