//! The Telegram side: the dispatcher tree, start-up, and long polling.
//!
//! [`schema`] is the whole map of what an update can do; read it first.

pub mod commands;
pub mod dialogues;
pub mod handlers;
pub mod keyboards;

use std::sync::Arc;
use std::time::Duration;

use teloxide::dispatching::UpdateHandler;
use teloxide::error_handlers::LoggingErrorHandler;
use teloxide::prelude::*;
use teloxide::types::{BotCommand, Me};
use teloxide::update_listeners::Polling;
use teloxide::{ApiError, RequestError};

use crate::app::App;
use crate::buildbot;
use crate::delivery::Delivery;
use crate::delivery::outbox::Outbox;
use crate::notify::pipeline::Notifier;
use crate::settings::{ChatTarget, Settings, TelegramSettings, WebhookSettings};
use crate::storage::{Chat, Store};
use commands::{Command, Parsed};
use dialogues::{ConversationStorage, State};
use teloxide::dispatching::dialogue::{self, RedisStorage, Storage, serializer::Json};

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Every path an update can take.
///
/// Messages are parsed once into [`Parsed`]; commands then pass the authz guard (a denied user
/// gets a reply naming their id) before reaching their handler. Button taps decode their data
/// and check authz again in [`handlers::callback`].
pub fn schema() -> UpdateHandler<BoxError> {
    use dptree::case;

    let command = dptree::entry()
        .inspect(|msg: Message, command: Command| {
            let user = msg.from.as_ref().map_or(0, |u| u.id.0);
            log::info!("chat {}: /{} from user {user}", msg.chat.id, command.name());
        })
        .branch(dptree::filter(handlers::is_denied).endpoint(handlers::deny))
        .branch(case![Command::Start(args)].endpoint(handlers::start))
        .branch(case![Command::Help(args)].endpoint(handlers::help))
        .branch(case![Command::Commands(args)].endpoint(handlers::commands))
        .branch(case![Command::Hello(args)].endpoint(handlers::hello))
        .branch(case![Command::Getid(args)].endpoint(handlers::getid))
        .branch(case![Command::Source(args)].endpoint(handlers::source))
        .branch(case![Command::Version(args)].endpoint(handlers::version))
        .branch(case![Command::Nay(args)].endpoint(dialogues::nay))
        .branch(case![Command::List(args)].endpoint(handlers::list))
        .branch(case![Command::Status(args)].endpoint(handlers::status))
        .branch(case![Command::Last(args)].endpoint(handlers::last))
        .branch(case![Command::Notify(args)].endpoint(handlers::notify))
        .branch(case![Command::Watch(args)].endpoint(handlers::watch))
        .branch(case![Command::Mute(args)].endpoint(handlers::mute))
        .branch(case![Command::Unmute(args)].endpoint(handlers::unmute))
        .branch(case![Command::Force(args)].endpoint(dialogues::force))
        .branch(case![Command::Stop(args)].endpoint(dialogues::stop))
        .branch(case![Command::Shutdown(args)].endpoint(dialogues::shutdown));

    let message = Update::filter_message()
        .filter_map(|msg: Message, app: Arc<App>| {
            msg.text()
                .map(|text| commands::parse(text, &app.bot_username))
        })
        .branch(case![Parsed::Command(command)].chain(command))
        .branch(case![Parsed::Unknown(name)].endpoint(handlers::unknown))
        // a typed answer to a conversation's question
        .branch(
            case![Parsed::Text]
                .branch(
                    case![State::AwaitingValue { owner, form, field }]
                        .endpoint(dialogues::receive_value),
                )
                .branch(
                    dptree::filter(|msg: Message| msg.chat.is_private())
                        .endpoint(handlers::chatter),
                ),
        );

    let button = Update::filter_callback_query().endpoint(handlers::callback);

    // Every update sees its chat's conversation state (dialogues are kept per chat).
    dialogue::enter::<Update, ConversationStorage, State, _>()
        .branch(message)
        .branch(button)
}

/// Why the bot could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "Telegram at {api_url} rejected telegram.bot_token ({reason}). Check the token BotFather gave you (/mybots → API Token)."
    )]
    BadToken { api_url: String, reason: String },
    #[error(
        "Telegram's getMe answered without a username; set telegram.bot_username to the bot's username."
    )]
    NoUsername,
    #[error("cannot build the HTTP client for Telegram: {0}")]
    Client(String),
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    #[error("cannot use Redis at storage.redis_url for conversations: {0}")]
    Redis(String),
    #[error("cannot listen for the webhook on {address} (telegram.webhook.listen): {reason}")]
    Listen { address: String, reason: String },
    #[error(
        "Telegram refused the webhook (setWebhook): {0}. Check telegram.webhook.url and telegram.certificate."
    )]
    Webhook(String),
}

/// Starts the bot and runs it until SIGINT or SIGTERM.
pub async fn run(settings: Settings) -> Result<(), StartError> {
    let store = Store::open(&settings.storage.path)?;
    apply_configured_chats(&store, &settings).await?;
    let bot = make_bot(&settings.telegram)?;
    let me = wait_for_me(&bot, &settings.telegram).await?;
    let username = me.user.username.clone().ok_or(StartError::NoUsername)?;
    if let Some(configured) = &settings.telegram.bot_username
        && !configured.eq_ignore_ascii_case(&username)
    {
        log::warn!(
            "telegram.bot_username is {configured:?} but the token belongs to @{username}; answering as @{username}"
        );
    }
    register_commands(&bot).await;

    let client = Arc::new(buildbot::Client::new(&settings.buildbot));
    match client.master_config().await {
        Ok(config) => log::info!(
            "Buildbot master at {} is version {}",
            client.base_url(),
            config.buildbot_version().unwrap_or("unknown")
        ),
        Err(error) => log::warn!("{error}; commands will say so until the master answers"),
    }
    let delivery = Delivery::new(bot.clone(), settings.telegram.limits);
    let outbox = Outbox::start(
        store.clone(),
        delivery.clone(),
        settings.telegram.give_up_after,
        settings.notify.quiet_hours,
    );
    let outbox_at_exit = outbox.clone();
    // Buildbot events → notifier → delivery, beside the dispatcher.
    let (events_tx, events_rx) = tokio::sync::mpsc::channel(256);
    tokio::spawn(buildbot::events::run(client.clone(), events_tx));
    let notifier = Notifier::new(
        client.clone(),
        store.clone(),
        outbox,
        delivery.clone(),
        settings.notify.clone(),
    );
    tokio::spawn(notifier.run(events_rx));
    let app = Arc::new(App {
        buildbot: client,
        delivery,
        store: store.clone(),
        master_control: crate::master_control::MasterControl::new(
            settings.buildbot.master_control.clone(),
        ),
        bot_username: username.clone(),
        settings,
    });
    let conversations = conversation_storage(&store, &app.settings).await?;

    let webhook_settings = app.settings.telegram.webhook.clone();
    let certificate = app.settings.telegram.certificate.clone();
    let webhook = match &webhook_settings {
        Some(settings) => {
            Some(webhook_listener(bot.clone(), settings, certificate.as_deref()).await?)
        }
        None => None,
    };

    let (polling_bot, app_retry_delay, app_poll_timeout) = (
        bot.clone(),
        app.settings.telegram.retry_delay,
        app.settings.telegram.poll_timeout,
    );
    let mut dispatcher = Dispatcher::builder(bot, schema())
        .dependencies(dptree::deps![app, conversations])
        // Group chatter, photos, commands for other bots: nothing to do, nothing to warn about.
        .default_handler(|update| async move { log::debug!("ignored update {}", update.id.0) })
        .error_handler(LoggingErrorHandler::with_custom_text(
            "handling an update failed",
        ))
        .enable_ctrlc_handler()
        .build();
    stop_on_sigterm(dispatcher.shutdown_token());

    log::info!(
        "buildbot-telegram {} started as @{username}",
        env!("CARGO_PKG_VERSION")
    );
    let listener_errors = Arc::new(OutageLog::default());
    let outcome = match webhook {
        Some(listener) => {
            dispatcher
                .try_dispatch_with_listener(listener, listener_errors)
                .await
        }
        None => {
            log::info!("receiving updates by long polling ({app_poll_timeout} s per request)");
            let retry_delay = Duration::from_secs(app_retry_delay.into());
            // also removes a webhook left from an earlier run in webhook mode
            let listener = Polling::builder(polling_bot)
                .timeout(Duration::from_secs(app_poll_timeout.into()))
                .backoff_strategy(move |_errors| retry_delay)
                .delete_webhook()
                .await
                .build();
            dispatcher
                .try_dispatch_with_listener(listener, listener_errors)
                .await
        }
    };
    if let Err(error) = outcome {
        log::error!("the dispatcher stopped: {error}");
    }
    outbox_at_exit.finish(Duration::from_secs(5)).await;
    log::info!("stopped");
    Ok(())
}

/// Logs failures to get updates once per outage at warn (again only after 10 minutes of
/// failing), the rest at debug: a Telegram outage must not flood the log.
#[derive(Default)]
struct OutageLog {
    last_warned: std::sync::Mutex<Option<std::time::Instant>>,
}

impl<E: std::fmt::Debug + Send + 'static> teloxide::error_handlers::ErrorHandler<E> for OutageLog {
    fn handle_error(self: Arc<Self>, error: E) -> futures::future::BoxFuture<'static, ()> {
        let warn = self.last_warned.lock().is_ok_and(|mut last| {
            let due = last.is_none_or(|t| t.elapsed() > Duration::from_secs(600));
            if due {
                *last = Some(std::time::Instant::now());
            }
            due
        });
        if warn {
            log::warn!(
                "getting updates from Telegram failed: {error:?}; retrying (further failures are logged at debug)"
            );
        } else {
            log::debug!("getting updates from Telegram failed again: {error:?}");
        }
        Box::pin(async {})
    }
}

/// Webhook mode: setWebhook with the secret (and certificate), then serve Telegram's posts on
/// `listen`. Requests without the secret are refused with 401 by teloxide, and logged here.
async fn webhook_listener(
    bot: Bot,
    settings: &WebhookSettings,
    certificate: Option<&str>,
) -> Result<
    impl teloxide::update_listeners::UpdateListener<Err = std::convert::Infallible>,
    StartError,
> {
    use teloxide::update_listeners::webhooks;
    let mut options = webhooks::Options::new(settings.listen, settings.url.clone())
        .max_connections(settings.max_connections);
    options = match &settings.secret_token {
        Some(token) => options.secret_token(token.clone()),
        None => options,
    };
    crate::logging::add_secret(options.get_or_gen_secret_token());
    if let Some(path) = certificate {
        options = options.certificate(teloxide::types::InputFile::file(path));
    }
    let tcp = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|e| StartError::Listen {
            address: settings.listen.to_string(),
            reason: e.to_string(),
        })?;
    let (listener, stop, router) = webhooks::axum_to_router(bot, options)
        .await
        .map_err(|e| StartError::Webhook(e.to_string()))?;
    let router = router.layer(axum::middleware::map_response(log_refusal));
    tokio::spawn(async move {
        if let Err(error) = axum::serve(tcp, router).with_graceful_shutdown(stop).await {
            log::error!("the webhook server stopped: {error}");
        }
    });
    log::info!(
        "receiving updates through the webhook {} (listening on {})",
        settings.url,
        settings.listen
    );
    Ok(listener)
}

async fn log_refusal(response: axum::response::Response) -> axum::response::Response {
    if response.status() == axum::http::StatusCode::UNAUTHORIZED {
        log::warn!(
            "refused a webhook request without the right secret token (401); is something other than Telegram posting to it?"
        );
    }
    response
}

/// Conversations live beside the subscriptions in SQLite, or in Redis when several replicas
/// must share them.
async fn conversation_storage(
    store: &Store,
    settings: &Settings,
) -> Result<Arc<ConversationStorage>, StartError> {
    let Some(url) = &settings.storage.redis_url else {
        return Ok(Arc::new(store.clone()).erase());
    };
    let redis = RedisStorage::open(url, Json)
        .await
        .map_err(|e| StartError::Redis(e.to_string()))?;
    // one round trip now, so that a wrong URL stops the start instead of every conversation
    <RedisStorage<Json> as Storage<State>>::get_dialogue(redis.clone(), ChatId(0))
        .await
        .map_err(|e| StartError::Redis(e.to_string()))?;
    log::info!("conversations are kept in Redis");
    Ok(redis.erase())
}

/// `[notify].events` are turned on for `[notify].chat_ids` at every start (and, as in
/// Buildbot's bot, never turned off from here: `/notify off` does that).
async fn apply_configured_chats(store: &Store, settings: &Settings) -> Result<(), StartError> {
    for chat in &settings.notify.chat_ids {
        let chat = match chat {
            ChatTarget::Id(id) => Chat::Id(*id),
            ChatTarget::Channel(name) => Chat::Channel(name.clone()),
        };
        store
            .update_events(&chat, &settings.notify.events, &[])
            .await?;
    }
    Ok(())
}

fn make_bot(settings: &TelegramSettings) -> Result<Bot, StartError> {
    // Long polls hold the request open for poll_timeout seconds; the client must wait longer.
    let client = teloxide::net::default_reqwest_settings()
        .timeout(Duration::from_secs(u64::from(settings.poll_timeout) + 15))
        .build()
        .map_err(|e| StartError::Client(e.to_string()))?;
    Ok(Bot::with_client(&settings.bot_token, client).set_api_url(settings.api_url.clone()))
}

/// Asks Telegram who we are, waiting out network trouble; a rejected token ends the start.
async fn wait_for_me(bot: &Bot, settings: &TelegramSettings) -> Result<Me, StartError> {
    let mut reported = false;
    loop {
        match bot.get_me().await {
            Ok(me) => {
                if reported {
                    log::info!("Telegram answers again");
                }
                return Ok(me);
            }
            Err(RequestError::Api(ApiError::InvalidToken)) => {
                return Err(StartError::BadToken {
                    api_url: settings.api_url.to_string(),
                    reason: "Unauthorized".into(),
                });
            }
            // Telegram (or whatever answers at api_url) said no: waiting will not change that.
            Err(RequestError::Api(error)) => {
                return Err(StartError::BadToken {
                    api_url: settings.api_url.to_string(),
                    reason: error.to_string(),
                });
            }
            Err(error) => {
                if !reported {
                    log::warn!(
                        "cannot reach Telegram at {} ({error}); trying again every {} s",
                        settings.api_url,
                        settings.retry_delay
                    );
                    reported = true;
                }
                tokio::time::sleep(Duration::from_secs(settings.retry_delay.into())).await;
            }
        }
    }
}

/// Tells Telegram the command list, so clients can offer it as you type "/".
async fn register_commands(bot: &Bot) {
    let commands: Vec<BotCommand> = Command::listed()
        .into_iter()
        .map(|(name, description)| BotCommand::new(name, description))
        .collect();
    if let Err(error) = bot.set_my_commands(commands).await {
        log::warn!("could not register the command list with Telegram (setMyCommands): {error}");
    }
}

/// teloxide's own handler only catches SIGINT; service managers and containers send SIGTERM.
fn stop_on_sigterm(token: teloxide::dispatching::ShutdownToken) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let Ok(mut term) = signal(SignalKind::terminate()) else {
                log::warn!("cannot listen for SIGTERM; stop the bot with SIGINT");
                return;
            };
            term.recv().await;
            log::info!("SIGTERM received, stopping");
            loop {
                match token.shutdown() {
                    Ok(done) => {
                        done.await;
                        return;
                    }
                    // the dispatcher is not running yet: try again shortly
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        }
    });
}
