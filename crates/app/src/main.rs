//! `nudgescribe`: the server and its operator commands.

use std::path::PathBuf;
use std::process::ExitCode;

use app::{AppError, Application, Settings, prepare_database, telemetry};
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
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
    }
}

#[allow(clippy::print_stderr)]
fn fail(error: &AppError) -> ExitCode {
    tracing::error!(%error, "nudgescribe failed");
    eprintln!("error: {error}");
    ExitCode::FAILURE
}
