//! The outbox's delivery loop: kernel's [`OutboxDelivery`] (the delivery rule) run on every
//! enqueue notification and every [`kernel::OutboxSettings::poll_every`], for as long as the
//! server runs.

use kernel::OutboxDelivery;
use postgres::OutboxListener;

/// Runs `delivery` whenever Postgres announces an enqueue on `url`'s outbox channel, and at
/// least every `poll_every` (also when no listener can be had); a lost listener is
/// reconnected after one poll interval.
#[allow(
    clippy::disallowed_methods,
    reason = "the poll interval and the reconnection pause are real time"
)]
pub async fn run(delivery: OutboxDelivery, url: String) {
    let poll_every = delivery.settings().poll_every;
    loop {
        let mut listener = OutboxListener::connect(&url).await;
        loop {
            if let Err(error) = delivery.deliver_due().await {
                tracing::warn!(%error, "outbox delivery round failed");
            }
            let wake = async {
                match listener.as_mut() {
                    Some(listener) => listener.notified().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                alive = wake => if !alive { break },
                () = tokio::time::sleep(poll_every) => {}
            }
        }
        tokio::time::sleep(poll_every).await;
    }
}
