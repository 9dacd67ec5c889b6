//! `nudgescribe`: the server and its operator commands.

use std::path::PathBuf;
use std::process::ExitCode;

use std::time::Duration;

use app::{AppError, Application, Settings, admin, prepare_database, telemetry};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "nudgescribe", version, about = "The NudgeScribe backend")]
struct Cli {
    /// A configuration file (TOML); environment variables override it.
    #[arg(long, env = "NUDGESCRIBE_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Create the database if missing, apply pending migrations, and serve (the default).
    Serve,
    /// Create the database if missing and apply pending migrations, then exit.
    Migrate,
    /// Token signing keys and message master keys.
    Keys {
        #[command(subcommand)]
        action: KeysCommand,
    },
    /// Accounts and users, for operators (each command is recorded in the audit trail with
    /// detail {"by": "operator"}).
    Admin {
        #[command(subcommand)]
        action: AdminCommand,
    },
}

/// Where `admin create-account` reads a password from, when the operator gives one.
const ADMIN_PASSWORD_ENV: &str = "NUDGESCRIBE_ADMIN_PASSWORD";

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an account with its owner and a default workspace. The owner's password comes
    /// from NUDGESCRIBE_ADMIN_PASSWORD, or from stdin with --password-stdin; otherwise one is
    /// generated and printed once. (Never a command-line argument: those show in `ps` and in
    /// shell history.)
    CreateAccount {
        #[arg(long)]
        email: String,
        #[arg(long)]
        full_name: String,
        #[arg(long)]
        account_name: String,
        /// Read the password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Turn a user's MFA off and delete their recovery codes, so they sign in with their
    /// password and can enrol again.
    ResetMfa {
        #[arg(long)]
        email: String,
    },
    /// End every session of a user at once, on every instance: all their access and refresh
    /// tokens stop working. Their API keys stay.
    RevokeSessions {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Add a new signing key without downtime: every instance verifies it at once and signs
    /// with it after --activate-in seconds.
    Rotate {
        #[arg(long, default_value_t = 60)]
        activate_in: u64,
    },
    /// List the signing keys and what each is doing.
    List,
    /// Re-wrap every workspace data key under a new message master key (added to the key file;
    /// with keys from configuration, put the new one first). Messages are not touched.
    RotateMaster {
        /// Re-wrap under the current active key without adding one.
        #[arg(long)]
        rewrap_only: bool,
    },
    /// List the message master keys and how many workspace data keys each wraps.
    ListMaster,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => return fail(&error),
    };
    telemetry::init(&settings.log);
    let outcome = actix_web::rt::System::new().block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => {
                let app = Application::build(settings.clone()).await?;
                tracing::info!(
                    host = %settings.server.host,
                    port = app.port(),
                    docs = %format!("http://{}:{}/docs/", settings.server.host, app.port()),
                    "listening"
                );
                app.run_until_stopped().await?;
                tracing::info!("stopped");
                Ok::<(), AppError>(())
            }
            Command::Migrate => prepare_database(&settings).await,
            Command::Keys {
                action: KeysCommand::Rotate { activate_in },
            } => {
                let key =
                    admin::rotate_signing_key(&settings, Duration::from_secs(activate_in)).await?;
                report(&format!(
                    "added signing key {} (signs from {})",
                    key.kid,
                    key.activates_at.to_rfc3339()
                ));
                Ok(())
            }
            Command::Keys {
                action: KeysCommand::List,
            } => {
                let keys = admin::signing_keys(&settings).await?;
                for line in admin::describe(&keys, kernel::Clock::now(&platform::SystemClock)) {
                    report(&line);
                }
                Ok(())
            }
            Command::Keys {
                action: KeysCommand::RotateMaster { rewrap_only },
            } => {
                let rotation = admin::rotate_message_master_key(&settings, rewrap_only).await?;
                if let Some(id) = &rotation.generated {
                    report(&format!("added message master key {id} to the key file"));
                }
                let outcome = &rotation.outcome;
                report(&format!(
                    "re-wrapped {} workspace data keys under message master key {}",
                    outcome.rewrapped, outcome.master_key_id
                ));
                for (workspace, why) in &outcome.failed {
                    report(&format!(
                        "could not re-wrap the data key of workspace {workspace}: {why}"
                    ));
                }
                if outcome.failed.is_empty() {
                    Ok(())
                } else {
                    Err(AppError::Keys(format!(
                        "{} data keys were left as they were",
                        outcome.failed.len()
                    )))
                }
            }
            Command::Admin { action } => run_admin(&settings, action).await,
            Command::Keys {
                action: KeysCommand::ListMaster,
            } => {
                for line in admin::message_master_keys(&settings).await? {
                    report(&line);
                }
                Ok(())
            }
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
    }
}

async fn run_admin(settings: &Settings, action: AdminCommand) -> Result<(), AppError> {
    match action {
        AdminCommand::CreateAccount {
            email,
            full_name,
            account_name,
            password_stdin,
        } => {
            let password = admin_password(password_stdin)?;
            let created =
                admin::create_account(settings, &email, &full_name, &account_name, password)
                    .await?;
            let outcome = &created.outcome;
            report(&format!(
                "created account {} ({}), owner {} ({}), workspace {} ({})",
                outcome.account.id,
                outcome.account.name,
                outcome.user.id,
                outcome.user.email,
                outcome.workspace.id,
                outcome.workspace.name,
            ));
            if let Some(password) = &created.generated_password {
                report(&format!(
                    "generated password (shown this once; hand it over safely): {password}"
                ));
            }
            Ok(())
        }
        AdminCommand::ResetMfa { email } => {
            let (user, outcome) = admin::reset_mfa(settings, &email).await?;
            report(&match outcome {
                identity::MfaReset::Cleared => format!(
                    "MFA turned off for {} ({}); recovery codes deleted",
                    user.email, user.id
                ),
                identity::MfaReset::WasOff => {
                    format!("{} ({}) had no MFA; nothing changed", user.email, user.id)
                }
            });
            Ok(())
        }
        AdminCommand::RevokeSessions { email } => {
            let user = admin::revoke_sessions(settings, &email).await?;
            report(&format!(
                "every session of {} ({}) is revoked",
                user.email, user.id
            ));
            Ok(())
        }
    }
}

/// The password for `admin create-account`: from the environment, from stdin, or generated.
fn admin_password(from_stdin: bool) -> Result<admin::PasswordSource, AppError> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        return Ok(admin::PasswordSource::Given(password));
    }
    match std::env::var(ADMIN_PASSWORD_ENV) {
        Ok(password) if !password.is_empty() => Ok(admin::PasswordSource::Given(password)),
        _ => Ok(admin::PasswordSource::Generated(admin::generate_password()?)),
    }
}

/// Output of the operator commands, for the person at the terminal.
#[allow(clippy::print_stdout)]
fn report(line: &str) {
    println!("{line}");
}

#[allow(clippy::print_stderr)]
fn fail(error: &AppError) -> ExitCode {
    tracing::error!(%error, "nudgescribe failed");
    eprintln!("error: {error}");
    ExitCode::FAILURE
}
