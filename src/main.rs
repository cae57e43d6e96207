//! The `buildbot-telegram` binary: parse the command line, load settings, run the bot.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use buildbot_telegram::app::{self, check};
use buildbot_telegram::{logging, settings};

/// "0.1.0 (3f2a9c1d0b7e)": the release and the commit it was built from.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("BUILDBOT_TELEGRAM_GIT_COMMIT"),
    ")"
);

/// A Telegram bot for the Buildbot CI system.
///
/// Settings come from settings/default.toml (built in), then the --config file, then
/// environment variables such as BBTG_TELEGRAM__BOT_TOKEN.
#[derive(Parser)]
#[command(version = VERSION, about)]
struct Cli {
    /// Settings file (TOML); see settings/default.toml for every key.
    #[arg(short, long, value_name = "PATH")]
    config: Option<PathBuf>,

    /// Check the settings, the token, the Buildbot REST API and websocket and the storage,
    /// print one line per check, and exit (0 only when every check passes).
    #[arg(long, alias = "check-config")]
    check: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init();

    let settings = match settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    logging::add_secret(&settings.telegram.bot_token);
    if let Some((_, secret)) = settings.telegram.bot_token.split_once(':') {
        logging::add_secret(secret);
    }
    if let Some(credentials) = &settings.buildbot.credentials {
        logging::add_secret(&credentials.password);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    if cli.check {
        let checks = runtime.block_on(check::run(&settings));
        let mut all_pass = true;
        for check in checks {
            match check.outcome {
                Ok(detail) => println!("ok    {:<18} {detail}", check.name),
                Err(fix) => {
                    all_pass = false;
                    println!("FAIL  {:<18} {fix}", check.name);
                }
            }
        }
        return if all_pass {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    match runtime.block_on(app::run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            log::error!("{error}");
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
