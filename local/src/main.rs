//! osflow-local: the whole osflow API in one process on this machine — every route of every Lambda function
//! behind one HTTP server, the embedded SQLite store, and locally signed development tokens in place of Cognito.
//!
//! Wiring only: the rules live in `osflow-domain` and `osflow-app`, the HTTP API in `osflow-api`.

mod data_dir;
mod demo;
mod gateway;
mod sefaz_switch;
mod server;
mod token;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use osflow_app::{App, FiscalAdmin};
use osflow_bus::EmbeddedRelay;
use osflow_domain::Role;
use osflow_domain::values::{TenantId, UserId};
use osflow_invoicing::{EmitterPolicy, Invoicer, NfeChecks, NfseInvoicer, SharedAuthority, SharedNfseAuthority};
use osflow_lambda_kit::blob::hmac_sha256;
use osflow_lambda_kit::{DevelopmentUsers, LocalBlobStore};
use osflow_nfe::simulator::Simulator;
use osflow_notify::{HttpWebhookSender, MailboxSender, Notifier, NotifierDefaults, SendPace, WebhookTargets};
use osflow_portal::{PortalKey, PortalLinks};
use osflow_reports::{Announcer, Job, Reporter, Schedule};
use osflow_store_sqlite::{SecretsKey, SqliteOptions, SqliteStore};
use tokio::net::TcpListener;

use crate::data_dir::DataDir;
use crate::gateway::Gateway;
use crate::token::{DEFAULT_TTL, TokenKeys};

/// How long a company's webhook gets to answer.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
/// The sender of customer e-mails when the company has not set one.
const LOCAL_SENDER: &str = "nao-responda@osflow.local";
/// How often the report timer looks for a period to report (daily, weekly, monthly; each once per period).
const REPORT_TIMER: Duration = Duration::from_secs(15 * 60);

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// osflow on one machine: the service-order API on 127.0.0.1 with data in a local folder.
#[derive(Debug, Parser)]
#[command(name = "osflow-local", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on (HOST:PORT; port 0 picks a free one).
    #[arg(long, env = "OSFLOW_ADDR", default_value = "127.0.0.1:3000", value_name = "HOST:PORT")]
    addr: String,
    /// Data folder: the SQLite database, the token key and the lock.
    #[arg(long, env = "OSFLOW_DATA_DIR", default_value = "./.osflow", value_name = "DIR")]
    data: PathBuf,
    /// Create (once) the company `demo` with example orders in different statuses (and an NF-e emitter for
    /// the SEFAZ simulator).
    #[arg(long, conflicts_with = "hold_events")]
    demo: bool,
    /// Keep the events in the outbox: no notification leaves until a start without this flag (e.g. while
    /// importing or rehearsing, so that customers hear nothing).
    #[arg(long, env = "OSFLOW_HOLD_EVENTS")]
    hold_events: bool,
    /// How long the customer's page links in the notifications are valid, in days.
    #[arg(long, env = "OSFLOW_PORTAL_LINK_DAYS", default_value_t = 7, value_name = "DAYS",
          value_parser = clap::value_parser!(u16).range(1..=90))]
    portal_link_days: u16,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a development token (the token alone is the last line of the output).
    Token(TokenArgs),
}

#[derive(Debug, Args)]
struct TokenArgs {
    /// Company (tenant id): a-z, 0-9 and '-'.
    #[arg(long)]
    tenant: String,
    /// Role(s): representante, atendente, tecnico, financeiro (repeat or separate with commas).
    #[arg(long, required = true, value_delimiter = ',')]
    role: Vec<String>,
    /// User id (the `sub` claim); defaults to `<role>@<tenant>`.
    #[arg(long)]
    user: Option<String>,
    /// Days until the token expires.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3650))]
    days: u64,
    /// Data folder holding the token key (the server's).
    #[arg(long, env = "OSFLOW_DATA_DIR", default_value = "./.osflow", value_name = "DIR")]
    data: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Token(args)) => print_token(args),
        None => run(cli.serve),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("osflow-local: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `osflow-local token`: the token alone on the last line, so `$(osflow-local token … | tail -n1)` works.
fn print_token(args: TokenArgs) -> Result<(), String> {
    let tenant = TenantId::parse(&args.tenant).map_err(|e| format!("--tenant {:?}: {e}", args.tenant))?;
    let roles = args
        .role
        .iter()
        .map(|r| {
            Role::parse(r.trim())
                .ok_or_else(|| format!("--role {r:?}: use representante, atendente, tecnico or financeiro"))
        })
        .collect::<Result<Vec<Role>, String>>()?;
    let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    let user = args.user.unwrap_or_else(|| format!("{}@{}", names.join("+"), tenant));
    let user = UserId::parse(&user).map_err(|e| format!("--user {user:?}: {e}"))?;
    let dir = DataDir::open(&args.data).map_err(|e| e.to_string())?;
    let keys = TokenKeys::from_secret(&dir.token_key().map_err(|e| e.to_string())?)?;
    // The token's user is one of the company's development users from now on, with these roles.
    DevelopmentUsers::in_file(dir.users_path())
        .register(&tenant, &user, &roles)
        .map_err(|e| format!("cannot register the user {user}: {e}"))?;
    let ttl = Duration::from_secs(args.days * 24 * 3600);
    let token = keys.issue(tenant.as_str(), user.as_str(), &roles, ttl);
    let expires = chrono::Utc::now() + chrono::Duration::seconds(ttl.as_secs() as i64);
    println!(
        "Token for {user} of company {tenant}, roles {}, valid until {} (data folder {}):",
        names.join(", "),
        expires.format("%Y-%m-%d %H:%M UTC"),
        dir.path().display()
    );
    println!("{token}");
    Ok(())
}

/// The server: lock the data folder, open the store, seed the demo if asked, serve until Ctrl-C or SIGTERM.
fn run(args: ServeArgs) -> Result<(), String> {
    init_tracing();
    let dir = DataDir::open(&args.data).map_err(|e| e.to_string())?;
    let lock = dir.lock().map_err(|e| e.to_string())?;
    let key = dir.token_key().map_err(|e| e.to_string())?;
    let secrets_key = dir.secrets_key().map_err(|e| e.to_string())?;
    let portal_key =
        dir.portal_key().map_err(|e| e.to_string()).and_then(|k| PortalKey::new(k).map_err(|e| e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // The blocking pool serves file writes (mailbox, uploads) and the store's long reads (the outbox batch, a
        // period's report days); the requests' reads run on the workers. A few threads suffice, and each thread
        // keeps its own allocator heap: with tokio's default (up to 512) bursts of notifications left ~20
        // threads whose heaps doubled the resident memory under the next load. Two, as many as the cores this
        // runs on: with four, the e-mails of a burst of notifications brought three more threads and ~11 MB.
        .max_blocking_threads(2)
        .thread_name("osflow-local")
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let result = runtime.block_on(async {
        // Bound first: the upload URLs the blob store signs carry the address.
        let listener =
            TcpListener::bind(&args.addr).await.map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let db = dir.db_path();
        // The A1 passwords are sealed with the folder's secrets.key (those an older version stored in clear are
        // sealed now).
        let options = SqliteOptions { secrets_key: Some(SecretsKey::derive(&secrets_key)), ..SqliteOptions::default() };
        let store = Arc::new(
            SqliteStore::open_with(&db, options)
                .map_err(|e| format!("cannot open the database {}: {e}", db.display()))?,
        );
        // Private to its owner, whatever an older version, a copy or the umask left.
        dir.make_private().map_err(|e| e.to_string())?;
        let blobs = LocalBlobStore::new(
            dir.blobs_path(),
            format!("http://{addr}{}", gateway::BLOBS_PATH),
            hmac_sha256(&key, b"osflow-local upload URLs").to_vec(),
        );
        let users = Arc::new(DevelopmentUsers::in_file(dir.users_path()));
        if args.demo {
            for technician in demo::TECHNICIANS {
                let technician = UserId::parse(technician).map_err(|e| e.to_string())?;
                let demo = TenantId::parse(demo::TENANT).map_err(|e| e.to_string())?;
                users.register(&demo, &technician, &[Role::Tecnico]).map_err(|e| e.to_string())?;
            }
        }
        let app = App::over(store.clone())
            // Published flow versions are immutable: read each once per process.
            .with_flow_cache()
            // A read that nothing written since has changed is answered from memory (OSFLOW_READ_CACHE_MB).
            .with_read_cache(read_cache_bytes()?)
            // Webhooks to this machine (http, loopback) are allowed locally; never in AWS.
            .with_local_webhooks()
            // Invoicing is on for a company once its NF-e emitter is configured (the release then waits for the
            // authorized NF-e).
            .with_invoicing(Arc::new(EmitterPolicy::new(store.clone())))
            .with_blobs(Arc::new(blobs.clone()))
            // The emitter's settings and certificate (`/v1/fiscal/emitter`), kept in the data folder's database.
            .with_fiscal(FiscalAdmin { emitters: store.clone(), checks: Arc::new(NfeChecks) })
            // The company's users: the development users (`<role>@<company>`, those of `token --user`).
            .with_users(users.clone());
        // Each company's requests limited (OSFLOW_TENANT_RPS, OSFLOW_TENANT_BURST; 0 requests a second: none).
        let limit = osflow_api::TenantRateLimit::from_settings(
            std::env::var(osflow_api::limit::TENANT_RPS_ENV).ok().as_deref(),
            std::env::var(osflow_api::limit::TENANT_BURST_ENV).ok().as_deref(),
        )?;
        let app = match limit {
            Some(limit) => app.with_request_limit(Arc::new(limit)),
            None => app,
        };
        // --demo: the clock port moved into the past while the demo's history is seeded (the real time otherwise).
        let demo_clock = args.demo.then(|| Arc::new(demo::DemoClock::default()));
        let app = match &demo_clock {
            Some(clock) => app.with_clock(clock.clone()),
            None => app,
        };
        // Events out: the outbox relayed in-process to the notifier, at least once, across restarts (what is
        // not relayed yet when the process stops is relayed at the next start).
        let notifier = Notifier {
            app: app.clone(),
            settings: store.clone(),
            dedupe: store.clone(),
            email: Arc::new(MailboxSender::new(dir.mailbox_path())),
            webhook: Arc::new(
                HttpWebhookSender::with_targets(WEBHOOK_TIMEOUT, WebhookTargets::Local)
                    .map_err(|e| format!("cannot build the webhook client: {e}"))?,
            ),
            defaults: NotifierDefaults { sender_name: "osflow".into(), sender_email: LOCAL_SENDER.into() },
            // `{link}`: the customer's page on this server.
            links: Some(Arc::new(PortalLinks::new(
                format!("http://{addr}"),
                portal_key.clone(),
                Some(chrono::Duration::days(args.portal_link_days.into())),
            ))),
            // The mailbox folder has no quota.
            pace: Arc::new(SendPace::unlimited()),
        };
        // NF-e: issued at payment against the SEFAZ homologation simulator (osflow-local does not talk to SEFAZ).
        // The labor's NFS-e through the Sefin simulator, on the same consumer.
        let nfse = Arc::new(NfseInvoicer::new(
            app.clone(),
            store.clone(),
            Arc::new(SharedNfseAuthority(Arc::new(osflow_nfse::simulator::Simulator::new()))),
        ));
        let invoicer = Arc::new(
            Invoicer::new(
                app.clone(),
                store.clone(),
                // `<data>/sefaz-outage` present: SEFAZ's outage (108), its contingency (SVC) on.
                Arc::new(SharedAuthority(Arc::new(sefaz_switch::SwitchedSimulator::new(
                    Arc::new(Simulator::new()),
                    dir.path().join(sefaz_switch::OUTAGE_FILE),
                )))),
            )
            .with_nfse(nfse.clone()),
        );
        // The events of an authorized NF-e (cancel, carta de correção) through the same invoicer and simulator;
        // the NFS-e's cancellation through the NFS-e invoicer and the Sefin simulator.
        let app = app.with_nfe_events(invoicer.clone()).with_nfse_events(nfse);
        // Reports: every event counted into the day aggregates.
        let reporter = Reporter::new(app.clone());
        let relay = Arc::new(EmbeddedRelay::new(store.clone(), vec![Arc::new(notifier), invoicer, Arc::new(reporter)]));
        // The scheduled reports (EventBridge Scheduler in AWS), announced to the company by e-mail (mailbox).
        let announcer = Announcer {
            dedupe: store.clone(),
            email: Arc::new(MailboxSender::new(dir.mailbox_path())),
            sender_name: "osflow".into(),
            sender_email: LOCAL_SENDER.into(),
        };
        let report_timer = (!args.hold_events).then(|| tokio::spawn(report_timer(app.clone(), announcer)));
        // --demo is seeded by this process, not by a client: it does not spend the demo company's request budget
        // (the user's first requests after the seeding would be refused with 429 otherwise).
        let seeding = match args.demo {
            true => {
                let mut unlimited = app.clone();
                unlimited.request_limit = None;
                let keys = TokenKeys::from_secret(&key)?;
                Some(Gateway::new(unlimited, keys, blobs.clone(), portal_key.clone()).with_relay_waker(relay.waker()))
            }
            false => None,
        };
        // The console's fiscal routes travel as the event and response of a Lambda invoke, as the console function
        // reaches fiscal-admin in AWS (the same handler, here in process).
        let fiscal_function: Arc<dyn osflow_console::forward::FunctionInvoker> =
            Arc::new(osflow_console::forward::InProcess::new(app.clone(), osflow_api::Function::FiscalAdmin));
        let gateway = Arc::new(
            Gateway::new(app.clone(), TokenKeys::from_secret(&key)?, blobs, portal_key)
                .with_relay_waker(relay.waker())
                .with_console(osflow_console::Console {
                    app,
                    key: osflow_console::SessionKey::new(hmac_sha256(&key, b"osflow-local console sessions").to_vec())
                        .expect("an HMAC-SHA256 output is 32 bytes"),
                    sign_in: osflow_console::SignIn::Development { default_tenant: demo::TENANT.to_owned() },
                    // Plain HTTP on loopback.
                    secure: false,
                    upload_origins: vec![],
                    fiscal_function: Some(fiscal_function),
                }),
        );
        let (stop_relay, relay_stopped) = tokio::sync::oneshot::channel::<()>();
        let relay_task = (!args.hold_events).then(|| {
            let relay = relay.clone();
            tokio::spawn(async move {
                relay
                    .serve(async {
                        let _ = relay_stopped.await;
                    })
                    .await;
            })
        });
        if let Some(seeding) = &seeding {
            match demo::seed(seeding, store.as_ref(), demo_clock.as_deref())
                .await
                .map_err(|e| format!("--demo failed: {e}"))?
            {
                demo::Seeded::AlreadyThere => println!("Demo company \"demo\" already has its data."),
                demo::Seeded::Created(n) => println!("Demo company \"demo\" created with {n} example orders."),
            }
        }
        if args.hold_events {
            println!("Events are held (--hold-events): no notification is sent until a start without it.");
        }
        print_banner(addr, &dir, gateway.keys());
        server::serve(listener, gateway, shutdown_signal()).await;
        // The requests are done: let the relay finish its pass, then stop it.
        let _ = stop_relay.send(());
        if let Some(task) = relay_task {
            let _ = task.await;
        }
        if let Some(task) = report_timer {
            task.abort();
        }
        Ok::<(), String>(())
    });
    // Every connection is done (or abandoned after the drain timeout): the runtime and with it the store close.
    runtime.shutdown_timeout(Duration::from_secs(5));
    drop(lock);
    if result.is_ok() {
        println!("osflow-local stopped.");
    }
    result
}

/// The scheduled work of EventBridge Scheduler, one company at a time as the reporter function's jobs
/// ([`osflow_reports::Job`]): the SLA check at start and then every [`REPORT_TIMER`]; the daily, weekly and
/// monthly reports of the last complete periods, each (schedule, period, company) once per process once it
/// succeeded (reruns are harmless anyway: a period's report is replaced and announced once). A company's failure
/// is logged and retried at the next tick; it never holds the others.
async fn report_timer(app: osflow_app::App, announcer: Announcer) {
    let mut done: std::collections::BTreeSet<String> = Default::default();
    let mut tick = tokio::time::interval(REPORT_TIMER);
    loop {
        tick.tick().await;
        let now = chrono::Utc::now();
        let mut jobs = Vec::new();
        match osflow_reports::sla_tenants(&app).await {
            Ok(tenants) => jobs.extend(tenants.into_iter().map(|tenant| Job::Sla { tenant, at: now })),
            Err(e) => tracing::warn!(error = %e, "SLA check: companies not listed; retried at the next tick"),
        }
        for schedule in [Schedule::Daily, Schedule::Weekly, Schedule::Monthly] {
            match osflow_reports::schedule_tenants(&app, schedule, now).await {
                Ok(tenants) => {
                    jobs.extend(tenants.into_iter().map(|tenant| Job::Schedule { tenant, schedule, at: now }))
                }
                Err(e) => tracing::warn!(?schedule, error = %e, "companies not listed; retried at the next tick"),
            }
        }
        for job in jobs {
            let id = job.id();
            if done.contains(&id) {
                continue;
            }
            match osflow_reports::run_job(&app, &job, Some(&announcer)).await {
                // A report is made once per period; the SLA check runs at every tick.
                Ok(()) if matches!(job, Job::Schedule { .. }) => {
                    tracing::info!(job = %id, "scheduled report generated");
                    done.insert(id);
                }
                Ok(()) => {}
                Err(e) => tracing::warn!(job = %id, error = %e, "scheduled job failed; retried at the next tick"),
            }
        }
    }
}

fn print_banner(addr: SocketAddr, dir: &DataDir, keys: &TokenKeys) {
    let url = format!("http://{addr}");
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "osflow-local {} — data in {}", env!("CARGO_PKG_VERSION"), dir.path().display());
    if !addr.ip().is_loopback() {
        let _ = writeln!(out, "WARNING: listening on a non-loopback address; anyone who can reach it can try tokens");
    }
    let _ = writeln!(out, "Listening on {url}");
    let _ = writeln!(out, "Staff console: {url}/ (sign in as a development user and role)");
    let _ = writeln!(out, "Customer e-mails are written to {} (one .eml per message)", dir.mailbox_path().display());
    let _ = writeln!(out, "Development tokens for the company \"{}\" (valid 30 days):", demo::TENANT);
    for role in Role::ALL {
        let token = keys.issue(demo::TENANT, &format!("{}@{}", role.as_str(), demo::TENANT), &[role], DEFAULT_TTL);
        let _ = writeln!(out, "  {:<14} {token}", role.as_str());
    }
    let _ = writeln!(
        out,
        "Other companies and roles: osflow-local token --tenant T --role R --data {}",
        dir.path().display()
    );
    let _ = writeln!(out, "Try: curl -H \"Authorization: Bearer <token>\" {url}/v1/flow");
    let _ = writeln!(out, "Ctrl-C stops.");
    let _ = out.flush();
}

/// Completes on the first Ctrl-C or SIGTERM; a second one ends the process at once.
async fn shutdown_signal() {
    wait_for_signal().await;
    eprintln!("osflow-local: stopping — finishing open requests (Ctrl-C again to quit now)");
    tokio::spawn(async {
        wait_for_signal().await;
        eprintln!("osflow-local: stopped without waiting");
        std::process::exit(130);
    });
}

async fn wait_for_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler cannot fail on Unix");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// The log filter without `RUST_LOG`: warnings, and no line per request (`RUST_LOG=info` shows them).
const DEFAULT_LOG_FILTER: &str = "warn";

/// Human-readable logs on stderr, or JSON with `OSFLOW_LOG_FORMAT=json`. `RUST_LOG` filters by level and target
/// (`info`, `warn,osflow_api=info`); a target filter without regular expressions keeps the binary small.
/// The read cache's budget: `OSFLOW_READ_CACHE_MB` MiB (default 16: the views of about 10,000 orders, compressed).
fn read_cache_bytes() -> Result<usize, String> {
    const DEFAULT_MB: usize = 16;
    match std::env::var("OSFLOW_READ_CACHE_MB") {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse::<usize>()
            .map(|mb| mb * 1024 * 1024)
            .map_err(|_| format!("OSFLOW_READ_CACHE_MB={v:?}: a whole number of MiB (0: no read cache)")),
        _ => Ok(DEFAULT_MB * 1024 * 1024),
    }
}

fn init_tracing() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let spec = std::env::var("RUST_LOG").ok().filter(|s| !s.trim().is_empty());
    let spec = spec.as_deref().unwrap_or(DEFAULT_LOG_FILTER);
    let filter: tracing_subscriber::filter::Targets = spec.parse().unwrap_or_else(|e| {
        eprintln!("osflow-local: RUST_LOG={spec:?} is not understood ({e}); logging at {DEFAULT_LOG_FILTER}");
        DEFAULT_LOG_FILTER.parse().expect("the default filter parses")
    });
    let registry = tracing_subscriber::registry().with(filter);
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    // `try_init` fails only when a subscriber exists already.
    let _ = if std::env::var("OSFLOW_LOG_FORMAT").is_ok_and(|f| f.trim() == "json") {
        registry.with(fmt.json().with_current_span(true).with_span_list(false).flatten_event(true)).try_init()
    } else {
        registry.with(fmt.with_ansi(false)).try_init()
    };
}
