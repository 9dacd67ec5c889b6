//! Sealing and opening messages: the per-message cost of publishing and retrieval.

use std::hint::black_box;

use campaigns::{CampaignId, DataKey, MasterKey, MessageBinding, MessageContent, MessageId};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kernel::{AccountId, WorkspaceId};

fn content(body_bytes: usize) -> MessageContent {
    MessageContent {
        subject: Some("Your spring offer is here".into()),
        body: "x".repeat(body_bytes),
        metadata: Some(serde_json::json!({"template": "spring", "locale": "en", "variant": 2})),
    }
}

fn messages(c: &mut Criterion) {
    let key = DataKey::generate().unwrap_or_else(|e| panic!("{e}"));
    let workspace = WorkspaceId::generate();
    let campaign = CampaignId::generate();
    let binding = || MessageBinding {
        workspace,
        campaign,
        message: MessageId::generate(),
    };
    for body in [200, 2_000, 20_000] {
        let content = content(body);
        let fixed = binding();
        let sealed = key.seal(&fixed, &content).unwrap_or_else(|e| panic!("{e}"));
        let mut group = c.benchmark_group(format!("message, {body}-byte body"));
        group.throughput(Throughput::Elements(1));
        group.bench_function("seal", |b| {
            b.iter(|| black_box(key.seal(&binding(), black_box(&content))))
        });
        group.bench_function("open", |b| {
            b.iter(|| black_box(key.open(&fixed, black_box(&sealed))))
        });
        group.finish();
    }

    let master = MasterKey::from_bytes(&[7; 32]).unwrap_or_else(|e| panic!("{e}"));
    let account = AccountId::generate();
    let wrapped = master
        .wrap(account, workspace, &key)
        .unwrap_or_else(|e| panic!("{e}"));
    c.bench_function("unwrap a workspace data key", |b| {
        b.iter(|| black_box(master.unwrap(account, workspace, black_box(&wrapped))))
    });
}

criterion_group!(benches, messages);
criterion_main!(benches);
