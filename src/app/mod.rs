//! The composition root: builds every part from the settings, connects them, spawns the
//! background tasks, serves updates, and stops them all on SIGINT or SIGTERM.
//!
//! Nothing below this layer builds another layer's parts; this is the one place that shows
//! how the bot is put together:
//!
//! ```text
//! Buildbot /ws ──▶ buildbot::events ──▶ notify::Notifier ──▶ delivery::Outbox ──┐
//!                                        │ digest mode               ▲          ├──▶ Telegram
//!                                        └▶ storage ─▶ app::digest ──┘          │
//! Telegram updates ──▶ telegram::schema ──▶ handlers ──▶ delivery::Delivery ─────┘
//! ```

mod chats;
pub mod check;
mod digest;
mod replica;
mod supervise;

use chats::{apply_configured_chats, close_subscriptions};
use digest::DigestTimer;
use replica::{ActiveTasks, Replica};
use supervise::{AbortOnDrop, supervise};

use std::sync::Arc;

use teloxide::dispatching::ShutdownToken;
use teloxide::error_handlers::LoggingErrorHandler;
use teloxide::prelude::*;
use teloxide::types::UpdateKind;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::buildbot::mirror::{Mirror, Wanted};
use crate::buildbot::{self, control::MasterControl};
use crate::delivery::outbox::Outbox;
use crate::delivery::{Delivery, Outgoing};
use crate::notify::history::Histories;
use crate::notify::pipeline::Notifier;
use crate::settings::{Settings, closed_notice};
use crate::shutdown::Shutdown;
use crate::storage::Store;
use crate::telegram::bot::{self, BotError};
use crate::telegram::context::Context;
use teloxide::dispatching::dialogue::Storage;

use crate::telegram::conversations::{ConversationStorage, State};
use crate::telegram::listener::{self, OutageLog};
use crate::telegram::schema;
use crate::telegram::turns::ChatTurns;
use crate::telegram::webhook::{self, ListenError};

/// Why the bot could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Bot(#[from] BotError),
    #[error(transparent)]
    Listen(#[from] ListenError),
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
}

/// Starts the bot and runs it until SIGINT or SIGTERM.
pub async fn run(settings: Settings) -> Result<(), StartError> {
    let shutdown = Shutdown::new();
    stop_on_signals(shutdown.clone());
    let store = Store::open(&settings.storage.url)?;
    report_storage(&settings);
    apply_configured_chats(&store, &settings).await?;
    close_subscriptions(&store, &settings).await?;
    let bot = bot::make_bot(&settings.telegram, bot::polling_timeout(&settings.telegram))?;
    let me = tokio::select! {
        me = bot::wait_for_me(&bot, &settings.telegram) => me?,
        _ = shutdown.triggered() => return Ok(()),
    };
    let username = bot::username(&me, &settings.telegram)?;
    bot::register_commands(&bot).await;

    let client = Arc::new(buildbot::Client::new(&settings.buildbot));
    report_master(&client).await;
    if let Some(notice) = closed_notice(&settings.authz) {
        log::warn!("{notice}");
    }
    let delivery = make_delivery(&bot, &settings, &store).await?;
    let (mirror, histories) = shared_views(&settings);
    let replica = Arc::new(Replica::new());
    let lease = lease_store(&store, &settings)?;
    let conversations = <Store as Storage<State>>::erase(Arc::new(store.clone()));
    let ctx = Arc::new(Context {
        buildbot: client,
        mirror,
        histories,
        delivery,
        store,
        master_control: MasterControl::new(settings.buildbot.master_control.clone()),
        bot_username: username.clone(),
        settings,
    });
    let leading = lead(ctx.clone(), replica.clone(), lease, shutdown.clone());
    let receiving = Receiving {
        username: &username,
        shutdown: &shutdown,
        // polling replicas take turns: only the active one polls (Telegram answers a second
        // poller 409); every replica serves the webhook it is given
        active: (ctx.settings.telegram.webhook.is_none() && ctx.store.is_shared())
            .then(|| replica.while_active()),
    };
    let served = serve_until_shutdown(bot, ctx, conversations, receiving).await;
    shutdown.trigger();
    if let Err(error) = leading.await {
        log::error!("the replica's active work ended with an error: {error}");
    }
    log::info!("stopped");
    served
}

/// The delivery, sharing Telegram's budget with the other replicas when there are any (on a
/// connection of its own: the fan-out's writes never hold a send up).
async fn make_delivery(
    bot: &Bot,
    settings: &Settings,
    store: &Store,
) -> Result<Delivery, StartError> {
    let delivery = Delivery::new(bot.clone(), settings.telegram.limits)
        .remembering(store.clone())
        .await;
    if !store.is_shared() {
        return Ok(delivery);
    }
    Ok(delivery.sharing_budget(Store::open(&settings.storage.url)?))
}

/// The lease's store: with PostgreSQL a connection of its own, so that renewals never wait
/// behind a fan-out's writes.
fn lease_store(store: &Store, settings: &Settings) -> Result<Store, StartError> {
    if !store.is_shared() {
        return Ok(store.clone());
    }
    Ok(Store::open(&settings.storage.url)?)
}

/// The replica's lead in a task of its own: while it is the active one, Buildbot's events,
/// the notifier, the outbox and the digest timer run.
fn lead(
    ctx: Arc<Context>,
    replica: Arc<Replica>,
    lease: Store,
    shutdown: Shutdown,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let start = |spell: &Shutdown| {
            let shared = (&ctx.mirror, &ctx.histories);
            start_notifications(
                &ctx.settings,
                &ctx.buildbot,
                shared,
                &ctx.store,
                &ctx.delivery,
                spell,
            )
        };
        replica.lead(lease, shutdown, start).await;
    })
}

/// Says where the state lives (never a password).
fn report_storage(settings: &Settings) {
    if settings.storage.is_postgres() {
        log::info!(
            "state is kept in PostgreSQL at {}, shared by every replica",
            crate::storage::describe(&settings.storage.url)
        );
    } else {
        log::info!("state is kept in the SQLite file {}", settings.storage.url);
    }
}

/// What the notifier keeps and the commands read: the mirror (fed by the event stream) and
/// the builders' histories (kept by the notifier, read by `/flaky`).
fn shared_views(settings: &Settings) -> (Mirror, Histories) {
    let mirror = Mirror::new(Wanted {
        revisions: settings.notify.use_revisions,
        authors: settings.notify.show_blame_list,
        tail_lines: settings.notify.log_tail_lines,
        tags: settings.notify.tags.clone(),
    });
    (mirror, Histories::default())
}

/// The timer that sends each chat's digest when the quiet hours end (digest mode), or what an
/// earlier run left (any mode).
fn start_digests(
    settings: &Settings,
    store: &Store,
    outbox: &Outbox,
    shutdown: &Shutdown,
) -> JoinHandle<()> {
    let timer = DigestTimer {
        store: store.clone(),
        outbox: outbox.clone(),
        window: settings.notify.digest_window(),
        shutdown: shutdown.clone(),
    };
    tokio::spawn(supervise("the digest timer", shutdown.clone(), move || {
        timer.clone().run()
    }))
}

/// Buildbot events → notifier → outbox, beside the dispatcher, until `shutdown`: the tasks,
/// named for the log, to await at the end.
fn start_notifications(
    settings: &Settings,
    client: &Arc<buildbot::Client>,
    (mirror, histories): (&Mirror, &Histories),
    store: &Store,
    delivery: &Delivery,
    shutdown: &Shutdown,
) -> ActiveTasks {
    let (outbox, worker) = Outbox::new(
        store.clone(),
        delivery.clone(),
        settings.telegram.give_up_after,
        settings.notify.quiet_hours,
        shutdown.clone(),
    );
    let outbox_worker = tokio::spawn(supervise("the outbox", shutdown.clone(), move || {
        worker.run()
    }));
    let digests = start_digests(settings, store, &outbox, shutdown);
    // The event stream feeds the notifier: they fail and start again together, and a new
    // stream begins with a catch-up, so nothing that happened meanwhile is missed.
    let (client, store, delivery) = (client.clone(), store.clone(), delivery.clone());
    let (mirror, histories) = (mirror.clone(), histories.clone());
    let (notify, stopping) = (settings.notify.clone(), shutdown.clone());
    let give_up_after = settings.telegram.give_up_after;
    let notifications = tokio::spawn(supervise(
        "the notifier (with the event stream)",
        shutdown.clone(),
        move || {
            let (events_tx, events_rx) = tokio::sync::mpsc::channel(256);
            let events = AbortOnDrop(tokio::spawn(buildbot::events::run(
                client.clone(),
                events_tx,
                mirror.clone(),
                stopping.clone(),
            )));
            let notifier = Notifier::new(
                client.clone(),
                store.clone(),
                outbox.clone(),
                delivery.clone(),
                notify.clone(),
                give_up_after,
            )
            .feeding(mirror.clone())
            .keeping(histories.clone());
            let stopping = stopping.clone();
            async move {
                let _events = events;
                notifier.run(events_rx, stopping).await;
            }
        },
    ));
    vec![
        ("the notifier", notifications),
        ("the outbox", outbox_worker),
        ("the digest timer", digests),
    ]
}

/// Says which master the bot reads; a master that is down is only a warning: the bot copes.
async fn report_master(client: &buildbot::Client) {
    match client.master_config().await {
        Ok(config) => log::info!(
            "Buildbot master at {} is version {}",
            client.base_url(),
            config.buildbot_version().unwrap_or("unknown")
        ),
        Err(error) => log::warn!("{error}; commands will say so until the master answers"),
    }
}

/// How updates are received: by whom, until when, and for a polling replica among several,
/// when it is its turn.
struct Receiving<'a> {
    username: &'a str,
    shutdown: &'a Shutdown,
    /// `Some` when only the active replica may receive: its active spells.
    active: Option<watch::Receiver<Option<Shutdown>>>,
}

/// Runs the dispatcher until the shutdown; if it ends by itself (its listener failed), it is
/// started again, with a log line and a short pause. A start-up error (a webhook that cannot
/// be set up) ends the bot. A polling replica polls only while it is the active one.
async fn serve_until_shutdown(
    bot: Bot,
    ctx: Arc<Context>,
    conversations: Arc<ConversationStorage>,
    mut receiving: Receiving<'_>,
) -> Result<(), StartError> {
    let shutdown = receiving.shutdown;
    loop {
        let spell = match &mut receiving.active {
            None => shutdown.clone(),
            Some(active) => {
                let turn = tokio::select! {
                    turn = active.wait_for(|s| s.as_ref().is_some_and(|s| !s.is_triggered())) => {
                        turn.ok().and_then(|t| t.clone())
                    }
                    _ = shutdown.triggered() => return Ok(()),
                };
                let Some(spell) = turn else {
                    return Ok(());
                };
                spell
            }
        };
        serve(
            bot.clone(),
            ctx.clone(),
            conversations.clone(),
            receiving.username,
            &spell,
        )
        .await?;
        if shutdown.is_triggered() {
            return Ok(());
        }
        if spell.is_triggered() {
            log::info!("no longer the active replica: stopped receiving updates");
            continue;
        }
        log::error!("receiving updates stopped by itself; starting it again in 5 s");
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
            _ = shutdown.triggered() => return Ok(()),
        }
    }
}

/// Runs the dispatcher on the webhook or on long polling until it is told to stop.
async fn serve(
    bot: Bot,
    ctx: Arc<Context>,
    conversations: Arc<ConversationStorage>,
    username: &str,
    shutdown: &Shutdown,
) -> Result<(), StartError> {
    let telegram = ctx.settings.telegram.clone();
    let warnings = warn_floods(ctx.delivery.clone());
    let webhook = match &telegram.webhook {
        Some(settings) => {
            let listener = webhook::webhook(
                bot.clone(),
                settings,
                telegram.certificate.as_deref(),
                ctx.store.is_shared(),
            )
            .await?;
            Some(listener::budgeted(listener, warnings.clone()))
        }
        None => None,
    };
    if shutdown.is_triggered() {
        return Ok(());
    }
    let mut dispatcher = dispatcher(bot.clone(), ctx, conversations);
    let stop = dispatcher.shutdown_token();
    log::info!(
        "buildbot-telegram {} started as @{username}",
        env!("CARGO_PKG_VERSION")
    );
    let listener_errors = Arc::new(OutageLog::default());
    let outcome = match webhook {
        Some(listener) => {
            let dispatching = dispatcher.try_dispatch_with_listener(listener, listener_errors);
            until_shutdown(dispatching, stop, shutdown).await
        }
        None => {
            let listener = listener::budgeted(listener::polling(bot, &telegram).await, warnings);
            let dispatching = dispatcher.try_dispatch_with_listener(listener, listener_errors);
            until_shutdown(dispatching, stop, shutdown).await
        }
    };
    if let Err(error) = outcome {
        log::error!("the dispatcher stopped: {error}");
    }
    Ok(())
}

/// The dispatcher over [`schema`], with what every handler receives.
fn dispatcher(
    bot: Bot,
    ctx: Arc<Context>,
    conversations: Arc<ConversationStorage>,
) -> Dispatcher<Bot, crate::telegram::BoxError, u64> {
    let unrouted = bot.clone();
    Dispatcher::builder(bot, schema())
        .dependencies(dptree::deps![ctx, conversations, ChatTurns::default()])
        // no worker per chat (each costs ~60 kB for good): every update is handled at once,
        // and waits for its chat's turn first (telegram/turns.rs)
        .distribution_function(|_: &Update| None::<u64>)
        // Group chatter, photos, commands for other bots: nothing to do, nothing to warn about.
        // A tap no branch took (a message too old to read) is still answered, so the client
        // stops waiting.
        .default_handler(move |update| {
            let bot = unrouted.clone();
            async move {
                log::debug!("ignored update {}", update.id.0);
                if let UpdateKind::CallbackQuery(query) = &update.kind
                    && let Err(error) = bot.answer_callback_query(query.id.clone()).await
                {
                    log::debug!("cannot answer an unrouted tap: {error}");
                }
            }
        })
        .error_handler(LoggingErrorHandler::with_custom_text(
            "handling an update failed",
        ))
        .build()
}

/// Tells each chat whose input went over its budget, once per flood, to slow down; the
/// sender to hand those chats to. A few at a time: warnings are not worth a queue.
fn warn_floods(delivery: Delivery) -> tokio::sync::mpsc::Sender<ChatId> {
    let (warnings, mut flooded) = tokio::sync::mpsc::channel::<ChatId>(16);
    tokio::spawn(async move {
        while let Some(chat) = flooded.recv().await {
            let notice = Outgoing::text(crate::text::slow_down());
            if let Err(error) = delivery.send(chat, None, notice).await {
                log::debug!("cannot ask chat {chat} to slow down: {error}");
            }
        }
    });
    warnings
}

/// Runs the dispatcher until it ends or `shutdown` is triggered; then it is asked to stop and
/// finishes the updates in hand.
///
/// teloxide only takes the request once the dispatcher runs, which is after its own `getMe`:
/// a shutdown that comes earlier is asked again every 100 ms (teloxide offers nothing to
/// await), while the dispatcher is driven on, so it is never lost.
async fn until_shutdown<T>(
    dispatching: impl std::future::Future<Output = T>,
    stop: ShutdownToken,
    shutdown: &Shutdown,
) -> T {
    tokio::pin!(dispatching);
    tokio::select! {
        biased;
        outcome = &mut dispatching => return outcome,
        _ = shutdown.triggered() => {}
    }
    while let Err(error) = stop.shutdown() {
        log::debug!("the dispatcher is not running yet ({error}); asking again");
        tokio::select! {
            biased;
            outcome = &mut dispatching => return outcome,
            _ = tokio::time::sleep(std::time::Duration::from_millis(100)) => {}
        }
    }
    // the dispatcher stops only while it is polled: drive it to its end
    dispatching.await
}

/// SIGINT (Ctrl-C) and SIGTERM (service managers, containers) trigger the shutdown.
fn stop_on_signals(shutdown: Shutdown) {
    tokio::spawn(async move {
        let signal = wait_for_signal().await;
        log::info!("{signal} received, stopping");
        shutdown.trigger();
    });
}

#[cfg(unix)]
async fn wait_for_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        log::warn!("cannot listen for SIGTERM; stop the bot with SIGINT");
        let _ = tokio::signal::ctrl_c().await;
        return "SIGINT";
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() -> &'static str {
    let _ = tokio::signal::ctrl_c().await;
    "Ctrl-C"
}
