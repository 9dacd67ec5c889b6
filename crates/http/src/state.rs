//! What every handler can reach.

use std::sync::Arc;

use async_trait::async_trait;
use campaigns::CampaignService;
use customers::CustomerService;
use identity::IdentityService;
use metrics_exporter_prometheus::PrometheusHandle;
use tokens::TokenService;

use crate::client_ip::TrustedProxies;

/// Whether the server's dependencies answer (for `/health/ready`).
#[async_trait]
pub trait HealthCheck: Send + Sync + 'static {
    async fn ready(&self) -> Result<(), String>;
}

/// The default of `AppState::publish_json_limit`: 16 MiB.
pub const DEFAULT_PUBLISH_JSON_LIMIT: usize = 16 * 1024 * 1024;

pub struct AppState {
    pub identity: Arc<IdentityService>,
    pub tokens: Arc<TokenService>,
    pub campaigns: Arc<CampaignService>,
    pub customers: Arc<CustomerService>,
    pub health: Arc<dyn HealthCheck>,
    pub metrics: PrometheusHandle,
    pub trusted_proxies: TrustedProxies,
    /// Largest JSON body accepted, in bytes.
    pub json_limit: usize,
    /// Largest JSON body of a message publish request, in bytes.
    pub publish_json_limit: usize,
}
