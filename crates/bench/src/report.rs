//! The table of performance.md's targets: figure, baseline, ratio, target, met?

use std::fmt::Write as _;

use crate::figures::{Runs, Spread};

/// Whether a target holds; `None` when a figure it needs was not measured.
type Verdict = Option<bool>;

/// One row of the table.
pub struct Row {
    pub number: &'static str,
    pub workload: &'static str,
    pub figure: String,
    pub baseline: String,
    pub ratio: String,
    pub target: &'static str,
    pub met: Verdict,
}

fn spread(runs: &Runs, name: &str, unit: &str) -> String {
    match runs.spread(name) {
        Some(Spread { median, min, max }) if runs.0.len() > 1 => {
            format!("{} {unit} ({}–{})", num(median), num(min), num(max))
        }
        Some(Spread { median, .. }) => format!("{} {unit}", num(median)),
        None => "—".into(),
    }
}

/// Three significant digits, thousands separated.
fn num(value: f64) -> String {
    if value >= 100.0 {
        let rounded = value.round() as u64;
        let digits = rounded.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? / b?)
}

fn show(value: Option<f64>) -> String {
    value.map_or("—".into(), |v| format!("{v:.2}"))
}

fn all(verdicts: &[Verdict]) -> Verdict {
    verdicts.iter().try_fold(true, |acc, v| v.map(|v| acc && v))
}

/// The rows, from the medians of `runs`; `cores` is the machine's core count.
#[must_use]
pub fn rows(runs: &Runs, cores: usize) -> Vec<Row> {
    let m = |name: &str| runs.median(name);
    let at_least = |v: Option<f64>, t: f64| v.map(|v| v >= t);
    let at_most = |v: Option<f64>, t: f64| v.map(|v| v <= t);
    let mut rows = Vec::new();
    for (number, name, workload, target) in [
        (
            "1",
            "auth",
            "`POST /v1/auth` (API key → tokens)",
            "≥ 0.5 × db-write and ≥ 2,000/s",
        ),
        (
            "2",
            "refresh",
            "`POST /v1/auth/refresh` (rotation)",
            "≥ 0.5 × db-write and ≥ 2,000/s",
        ),
    ] {
        let r = ratio(m(name), m("db-write"));
        rows.push(Row {
            number,
            workload,
            figure: spread(runs, name, "/s"),
            baseline: spread(runs, "db-write", "/s"),
            ratio: show(r),
            target,
            met: all(&[at_least(r, 0.5), at_least(m(name), 2000.0)]),
        });
    }
    let r = ratio(m("read"), m("db-read"));
    rows.push(Row {
        number: "3",
        workload: "`GET …/customers/{id}` with an Ed25519 token",
        figure: spread(runs, "read", "/s"),
        baseline: spread(runs, "db-read", "/s"),
        ratio: show(r),
        target: "≥ 0.8 × db-read",
        met: at_least(r, 0.8),
    });
    let r = ratio(m("me"), m("hello"));
    rows.push(Row {
        number: "3b",
        workload: "`GET /v1/me` (the caller: user, account, roles, permissions)",
        figure: spread(runs, "me", "/s"),
        baseline: spread(runs, "hello", "/s"),
        ratio: show(r),
        target: "≥ 0.8 × hello",
        met: at_least(r, 0.8),
    });
    let r = ratio(m("list-deep-p50"), m("list-first-p50"));
    rows.push(Row {
        number: "4",
        workload: "list 50 customers: a deep cursor page vs page 1 (p50)",
        figure: format!(
            "page {}: {} vs {}",
            runs.median("deep-page").map_or("—".into(), num),
            spread(runs, "list-deep-p50", "ms"),
            spread(runs, "list-first-p50", "ms")
        ),
        baseline: "page 1".into(),
        ratio: show(r),
        target: "deep ≤ 1.5 × first",
        met: at_most(r, 1.5),
    });
    let r = ratio(m("login"), m("bcrypt").map(|b| b * cores as f64));
    let p99 = ratio(m("read-p99-under-login"), m("read-p99-idle"));
    rows.push(Row {
        number: "5",
        workload: "`POST /v1/auth/login`, bcrypt cost 12; #3 p99 while logins saturate",
        figure: format!(
            "{}; p99 {} vs idle {}",
            spread(runs, "login", "/s"),
            spread(runs, "read-p99-under-login", "ms"),
            spread(runs, "read-p99-idle", "ms")
        ),
        baseline: format!("{} × bcrypt {}", cores, spread(runs, "bcrypt", "/s")),
        ratio: format!("{}; p99 {}", show(r), show(p99)),
        target: "≥ 0.9 × cores × bcrypt; p99 ≤ 2 × idle",
        met: all(&[at_least(r, 0.9), at_most(p99, 2.0)]),
    });
    let r = ratio(m("upload"), m("copy"));
    rows.push(Row {
        number: "6",
        workload: "CSV upload, 5 custom fields, validated and upserted",
        figure: format!(
            "{}; peak RSS {}",
            spread(runs, "upload", "rows/s"),
            spread(runs, "upload-peak-rss", "MiB")
        ),
        baseline: spread(runs, "copy", "rows/s"),
        ratio: show(r),
        target: "≥ 100,000 rows/s, ≥ 0.15 × copy, RSS ≤ 256 MiB",
        met: all(&[
            at_least(m("upload"), 100_000.0),
            at_least(r, 0.15),
            at_most(m("upload-peak-rss"), 256.0),
        ]),
    });
    for (number, name, workload) in [
        (
            "7",
            "publish",
            "publish messages, batches of 1,000, encrypted",
        ),
        (
            "8",
            "retrieve",
            "retrieve messages, pages of 500, decrypted",
        ),
    ] {
        rows.push(Row {
            number,
            workload,
            figure: spread(runs, name, "msg/s"),
            baseline: "—".into(),
            ratio: "—".into(),
            target: "≥ 20,000 messages/s",
            met: at_least(m(name), 20_000.0),
        });
    }
    rows.push(Row {
        number: "9",
        workload: "idle RSS; start to ready (migrated database)",
        figure: format!(
            "{}; {}",
            spread(runs, "idle-rss", "MiB"),
            spread(runs, "ready", "ms")
        ),
        baseline: "—".into(),
        ratio: "—".into(),
        target: "≤ 50 MiB, ≤ 1 s",
        met: all(&[at_most(m("idle-rss"), 50.0), at_most(m("ready"), 1000.0)]),
    });
    rows.push(Row {
        number: "10",
        workload: "p99 of #1 / #2 / #3 at half their peak",
        figure: format!(
            "{} / {} / {}",
            spread(runs, "auth-p99-half", "ms"),
            spread(runs, "refresh-p99-half", "ms"),
            spread(runs, "read-p99-half", "ms")
        ),
        baseline: "—".into(),
        ratio: "—".into(),
        target: "≤ 10 ms",
        met: all(&[
            at_most(m("auth-p99-half"), 10.0),
            at_most(m("refresh-p99-half"), 10.0),
            at_most(m("read-p99-half"), 10.0),
        ]),
    });
    rows
}

/// Latency detail: p50 and p99 of every closed-loop workload.
const LATENCIES: &[(&str, &str)] = &[
    ("hello", "hello"),
    ("db-read", "db-read"),
    ("db-write", "db-write"),
    ("auth", "#1 auth"),
    ("refresh", "#2 refresh"),
    ("read", "#3 read"),
    ("me", "#3b GET /v1/me"),
    ("list-first", "#4 list page 1"),
    ("list-deep", "#4 list deep cursor page"),
    ("login", "#5 login"),
    ("publish", "#7 publish (per batch)"),
    ("retrieve", "#8 retrieve (per page)"),
];

/// The markdown section: what was run, where, and the table.
#[must_use]
pub fn markdown(runs: &Runs, context: &Context) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Commit `{}`, {}, {} cores, {} GiB, `{}`; {} run(s) of {} s per workload at \
         concurrency {} (publish/retrieve {}); figures are medians (min–max).\n",
        context.commit,
        context.date,
        context.cores,
        context.memory_gib,
        context.command,
        runs.0.len(),
        context.duration_secs,
        context.concurrency,
        context.batch_concurrency,
    );
    out.push_str("| # | Workload | Figure | Baseline | Ratio | Target | Met? |\n");
    out.push_str("|---|---|---|---|---|---|---|\n");
    for row in rows(runs, context.cores) {
        let met = match row.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "not measured",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            row.number, row.workload, row.figure, row.baseline, row.ratio, row.target, met
        );
    }
    out.push_str("\n| Closed-loop workload | Throughput | p50 | p99 |\n|---|---|---|---|\n");
    for (name, label) in LATENCIES {
        let _ = writeln!(
            out,
            "| {label} | {} | {} | {} |",
            spread(runs, name, "/s"),
            spread(runs, &format!("{name}-p50"), "ms"),
            spread(runs, &format!("{name}-p99"), "ms"),
        );
    }
    let _ = writeln!(
        out,
        "\nServer peak RSS over a whole run (upload included): {}.",
        spread(runs, "run-peak-rss", "MiB")
    );
    let errors = runs.errors();
    if errors.is_empty() {
        out.push_str("\nNo request failed.\n");
    } else {
        out.push_str("\nFailed requests:\n");
        for (name, (count, first)) in errors {
            let _ = writeln!(out, "- {name}: {count}, first: `{first}`");
        }
    }
    out
}

/// Where and how the figures were taken.
pub struct Context {
    pub commit: String,
    pub date: String,
    pub cores: usize,
    pub memory_gib: u64,
    pub command: String,
    pub duration_secs: u64,
    pub concurrency: usize,
    pub batch_concurrency: usize,
}

pub const BEGIN: &str = "<!-- bench:begin (written by `just bench`) -->";
pub const END: &str = "<!-- bench:end -->";

/// `document` with the text between the markers replaced by `section` (the markers are added
/// after the first heading when missing).
#[must_use]
pub fn splice(document: &str, section: &str) -> String {
    let block = format!("{BEGIN}\n{section}{END}");
    if let (Some(start), Some(end)) = (document.find(BEGIN), document.find(END))
        && start < end
    {
        return format!(
            "{}{block}{}",
            &document[..start],
            &document[end + END.len()..]
        );
    }
    match document.find("\n\n") {
        Some(at) => format!("{}\n\n{block}\n{}", &document[..at], &document[at..]),
        None => format!("{document}\n\n{block}\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::RunFigures;

    #[test]
    fn a_target_is_met_only_when_every_part_holds_and_unmeasured_when_a_part_is_missing() {
        let mut run = RunFigures::default();
        run.set("auth", 3000.0);
        run.set("db-write", 5000.0);
        run.set("refresh", 1900.0);
        let rows = rows(&Runs(vec![run]), 2);
        assert_eq!(rows[0].met, Some(true));
        assert_eq!(rows[1].met, Some(false), "below 2,000/s");
        assert_eq!(rows[2].met, None, "read was not measured");
    }

    #[test]
    fn splicing_replaces_only_the_marked_section() {
        let doc = format!("# Bench\n\nintro\n\n{BEGIN}\nold\n{END}\n\n## Notes\nkept\n");
        let spliced = splice(&doc, "new\n");
        assert!(spliced.contains("new\n"));
        assert!(!spliced.contains("old"));
        assert!(spliced.contains("## Notes\nkept"));
        assert_eq!(splice(&spliced, "new\n"), spliced);
        let fresh = splice("# Bench\n\nintro\n", "table\n");
        assert!(fresh.starts_with("# Bench\n\n<!-- bench:begin"));
    }

    #[test]
    fn numbers_read_easily() {
        assert_eq!(num(123_456.7), "123,457");
        assert_eq!(num(42.42), "42.4");
        assert_eq!(num(1.234), "1.23");
    }
}
