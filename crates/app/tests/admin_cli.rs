//! The `nudgescribe admin …` commands as an operator types them: the built binary, its
//! arguments, where the password comes from, what it prints, and its exit status. (Their
//! effects over HTTP are tested in `tests/admin.rs`.)

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use testdb::TestDatabase;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Runs `nudgescribe admin <args>` on the database, with `stdin` as its input.
fn admin(
    database: &TestDatabase,
    master_key: &str,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: &str,
) -> Result<Output, Box<dyn std::error::Error + Send + Sync>> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nudgescribe"))
        .arg("admin")
        .args(args)
        .env("DATABASE_URL", database.url())
        .env("NUDGESCRIBE__AUTH__BCRYPT_COST", "4")
        .env("NUDGESCRIBE__KEYS__MASTER_KEY", master_key)
        .env("NUDGESCRIBE__LOG__LEVEL", "warn")
        .env_remove("NUDGESCRIBE_ADMIN_PASSWORD")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes())?;
    }
    Ok(child.wait_with_output()?)
}

fn account(email: &str) -> Vec<&str> {
    vec![
        "create-account",
        "--email",
        email,
        "--full-name",
        "Olive Ops",
        "--account-name",
        "Operated",
    ]
}

#[tokio::test]
async fn create_account_takes_the_password_from_stdin_or_the_environment_or_generates_one()
-> TestResult {
    let database = TestDatabase::new(postgres::MIGRATIONS).await?;
    let key = kernel::SealingKey::generate_base64()?;

    let mut args = account("stdin@example.com");
    args.push("--password-stdin");
    let from_stdin = admin(&database, &key, &args, &[], "correct horse battery\n")?;
    let printed = String::from_utf8(from_stdin.stdout)?;
    assert!(from_stdin.status.success(), "{printed}");
    assert!(printed.contains("created account") && printed.contains("stdin@example.com"));
    assert!(
        !printed.contains("correct horse battery") && !printed.contains("generated password"),
        "a given password is never printed: {printed}"
    );

    let from_env = admin(
        &database,
        &key,
        &account("env@example.com"),
        &[("NUDGESCRIBE_ADMIN_PASSWORD", "correct horse battery")],
        "",
    )?;
    let printed = String::from_utf8(from_env.stdout)?;
    assert!(from_env.status.success());
    assert!(!printed.contains("generated password"), "{printed}");

    let generated = admin(&database, &key, &account("gen@example.com"), &[], "")?;
    let printed = String::from_utf8(generated.stdout)?;
    assert!(generated.status.success());
    let password = printed
        .lines()
        .find_map(|l| l.split_once("generated password"))
        .and_then(|(_, rest)| rest.rsplit(' ').next())
        .ok_or("the generated password is printed once")?;
    assert_eq!(password.len(), 24, "{printed}");

    // A short password is refused with the reason, and a non-zero exit.
    let weak = admin(
        &database,
        &key,
        &account("weak@example.com"),
        &[("NUDGESCRIBE_ADMIN_PASSWORD", "short")],
        "",
    )?;
    assert!(!weak.status.success());
    assert!(String::from_utf8(weak.stderr)?.contains("password"));
    Ok(())
}

#[tokio::test]
async fn user_commands_fail_for_an_unknown_email() -> TestResult {
    let database = TestDatabase::new(postgres::MIGRATIONS).await?;
    let key = kernel::SealingKey::generate_base64()?;
    for command in ["reset-mfa", "revoke-sessions"] {
        let output = admin(
            &database,
            &key,
            &[command, "--email", "nobody@example.com"],
            &[],
            "",
        )?;
        assert!(!output.status.success(), "{command}");
        assert!(
            String::from_utf8(output.stderr)?.contains("no user has that email"),
            "{command}"
        );
    }
    let created = admin(
        &database,
        &key,
        &account("ops@example.com"),
        &[("NUDGESCRIBE_ADMIN_PASSWORD", "correct horse battery")],
        "",
    )?;
    assert!(created.status.success());
    let revoked = admin(
        &database,
        &key,
        &["revoke-sessions", "--email", "ops@example.com"],
        &[],
        "",
    )?;
    assert!(revoked.status.success());
    assert!(String::from_utf8(revoked.stdout)?.contains("every session of ops@example.com"));
    let reset = admin(
        &database,
        &key,
        &["reset-mfa", "--email", "ops@example.com"],
        &[],
        "",
    )?;
    assert!(String::from_utf8(reset.stdout)?.contains("had no MFA"));
    Ok(())
}
