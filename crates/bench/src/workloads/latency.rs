//! Workload #10: p99 latency of #1–#3 at half their peak.

use super::*;

/// performance.md #10: #1–#3 at half the peak this run measured, p99 from each request's due time.
pub(super) async fn half_peak(
    plan: &Plan,
    api: &Api,
    ids: &Identities,
    content: &Content,
    figures: &mut RunFigures,
) -> Result<()> {
    let half = |name: &str| figures.get(name).map_or(1.0, |peak| (peak / 2.0).max(1.0));
    let (auth_rate, refresh_rate, read_rate) = (half("auth"), half("refresh"), half("read"));
    let auth = open_loop(
        auth_workers(api, ids, plan.concurrency),
        auth_rate,
        plan.duration,
    )
    .await?;
    figures.set("auth-p99-half", auth.latency_ms(0.99));
    note_errors(figures, "auth-half", &auth);
    let chains = refresh_workers(api, ids, plan.concurrency).await?;
    let refresh = open_loop(chains, refresh_rate, plan.duration).await?;
    figures.set("refresh-p99-half", refresh.latency_ms(0.99));
    note_errors(figures, "refresh-half", &refresh);
    let tokens = access_tokens(api, ids, plan.concurrency).await?;
    let read = open_loop(
        read_workers(api, &tokens, content, plan.concurrency),
        read_rate,
        plan.duration,
    )
    .await?;
    figures.set("read-p99-half", read.latency_ms(0.99));
    note_errors(figures, "read-half", &read);
    progress(format_args!(
        "p99 at half peak: auth {:.2} ms @ {auth_rate:.0}/s, refresh {:.2} ms @ {refresh_rate:.0}/s, \
         read {:.2} ms @ {read_rate:.0}/s",
        auth.latency_ms(0.99),
        refresh.latency_ms(0.99),
        read.latency_ms(0.99)
    ));
    Ok(())
}
