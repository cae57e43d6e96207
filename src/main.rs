//! The `buildbot-telegram` binary: parse the command line, load settings, run the bot.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use buildbot_telegram::{logging, settings, telegram};

/// A Telegram bot for the Buildbot CI system.
///
/// Settings come from settings/default.toml (built in), then the --config file, then
/// environment variables such as BBTG_TELEGRAM__BOT_TOKEN.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Settings file (TOML); see settings/default.toml for every key.
    #[arg(short, long, value_name = "PATH")]
    config: Option<PathBuf>,

    /// Check the settings and exit without starting the bot.
    #[arg(long)]
    check_config: bool,
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
    if cli.check_config {
        println!("settings are valid");
        return ExitCode::SUCCESS;
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
    match runtime.block_on(telegram::run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            log::error!("{error}");
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
