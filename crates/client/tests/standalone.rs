//! The SDK publishes on its own: it depends on no crate of the server (docs/architecture.md,
//! "Invariants"). A dependency on one would compile the client against the server's types
//! instead of failing when the API drifts.

const SERVER_CRATES: &[&str] = &[
    "kernel",
    "identity",
    "tokens",
    "customers",
    "campaigns",
    "postgres",
    "http",
    "platform",
    "app",
    "testdb",
    "nudgescribe-e2e",
];

#[test]
fn depends_on_no_crate_of_the_server() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))?;
    let mut section = "";
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
            continue;
        }
        if !section.contains("dependencies") {
            continue;
        }
        let name = line.split(['.', '=', ' ']).next().unwrap_or_default();
        assert!(
            !SERVER_CRATES.contains(&name) && !name.starts_with("nudgescribe"),
            "{section} names the server crate `{name}`"
        );
    }
    Ok(())
}
