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

    /// Test builds only: panic once the settings are read, with the token in the message, so
    /// the end-to-end tests can see that a panic is printed without it.
    #[cfg(debug_assertions)]
    #[arg(long, hide = true)]
    panic_after_settings: bool,
}

/// With `--features dhat-heap`, every allocation is counted, for `dhat-heap.json`.
#[cfg(feature = "dhat-heap")]
#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn main() -> ExitCode {
    // written to dhat-heap.json in the working directory when main returns
    #[cfg(feature = "dhat-heap")]
    let _profiler = dhat::Profiler::new_heap();
    logging::redact_panics();
    let cli = Cli::parse();
    logging::init();
    // what the environment holds is known before the settings are read, and may be quoted
    // by an error about them
    let environment = std::env::vars_os().map(|(k, v)| {
        (
            k.to_string_lossy().into_owned(),
            v.to_string_lossy().into_owned(),
        )
    });
    for secret in settings::secrets_in_environment(environment) {
        logging::add_secret(&secret);
    }
    let settings = match settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => {
            logging::complain(&format!("error: {error}"));
            return ExitCode::from(2);
        }
    };
    for secret in settings.secrets() {
        logging::add_secret(&secret);
    }
    #[cfg(debug_assertions)]
    if cli.panic_after_settings {
        panic!(
            "forced by --panic-after-settings; the token is {}",
            settings.telegram.bot_token
        );
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            logging::complain(&format!("error: cannot start the async runtime: {error}"));
            return ExitCode::FAILURE;
        }
    };
    if cli.check {
        return print_checks(runtime.block_on(check::run(&settings)));
    }
    match runtime.block_on(app::run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            log::error!("{error}");
            logging::complain(&format!("error: {error}"));
            ExitCode::FAILURE
        }
    }
}

/// One line per check on stdout; success only when every check passed.
fn print_checks(checks: Vec<check::Check>) -> ExitCode {
    let mut all_pass = true;
    for check in checks {
        match check.outcome {
            Ok(detail) => logging::say(&format!("ok    {:<18} {detail}", check.name)),
            Err(fix) => {
                all_pass = false;
                logging::say(&format!("FAIL  {:<18} {fix}", check.name));
            }
        }
    }
    if all_pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
