//! The agent: configuration, start-up and clean shutdown of one server.
//!
//! [`run`] takes a config value and a shutdown future, so tests and host applications can run
//! several agents in one process; [`main`] is the `raftwarden agent` command around it.

pub mod config;
pub mod hcl1;
mod log_filter;
pub mod tls;

use std::future::Future;
use std::net::IpAddr;
use std::net::SocketAddr;
use std::net::TcpListener;
use std::path::PathBuf;

use raftwarden_actors::license::document as license;
use raftwarden_actors::license::document::PublicKey;
use raftwarden_actors::membership::GetLeader;
use raftwarden_actors::LicenseSettings;
use raftwarden_actors::RaftTiming;
use raftwarden_actors::Settings;

use self::config::AgentConfig;
use self::config::ConfigError;
use crate::http;
use crate::http::listen::ConnLimits;
use crate::http::listen::Listen;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("failed to bind {what} listener on {addr}: {source}")]
    Bind { what: &'static str, addr: SocketAddr, source: std::io::Error },
    #[error("{0}")]
    Start(#[from] raftwarden_actors::StartError),
    #[error("{0}")]
    Unsupported(String),
    #[error(
        "raft stopped: {0}; the agent exits so that it can be restarted on its data dir, \
         which holds every acknowledged write"
    )]
    RaftStopped(String),
    #[error("failed to prepare data dir {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("license: {0}")]
    License(String),
    #[error("max join retry exhausted: no retry_join address answered within server_join.retry_max rounds")]
    JoinExhausted,
    #[error("{0}")]
    Tls(#[from] crate::tls::TlsError),
}

/// Threads of its own for each of the HTTP and RPC listeners, when they have them
/// ([`listeners_on_raft_thread`]).
const LISTENER_WORKERS: usize = 2;

/// Machines with at most this many cores serve HTTP and RPC on the raft thread.
const SMALL_MACHINE_CORES: usize = 2;

/// Whether the HTTP and RPC listeners accept and serve on the thread that runs raft and the
/// actors (the agent's), rather than on [`LISTENER_WORKERS`] threads each. A request then
/// reaches the actor that runs it, and raft traffic reaches raft, as a task hand-off on one
/// thread rather than a wake-up of another. On a small machine the server's own threads (raft
/// and the actors, the log's sync thread, the state writer) already take the cores, and the
/// listener threads only add those wake-ups: measured on 2 cores, serving on the raft thread
/// did more writes with less CPU per write at 1 and 64 clients, on 1 and 3 servers
/// (benches/README.md, "Listeners on the raft thread"). With more cores, the listener threads
/// parse, encode and run TLS beside raft.
fn listeners_on_raft_thread() -> bool {
    std::thread::available_parallelism().map_or(true, |n| n.get() <= SMALL_MACHINE_CORES)
}

fn bind(what: &'static str, ip: IpAddr, port: u16) -> Result<TcpListener, AgentError> {
    let addr = SocketAddr::new(ip, port);
    TcpListener::bind(addr).map_err(|source| AgentError::Bind { what, addr, source })
}

/// The address other servers and clients should use: `advertise` if set (its port defaults
/// to the listener's), else the bind address, or loopback when bound to all interfaces.
fn advertise(listener: &TcpListener, bind_ip: IpAddr, configured: Option<&str>) -> Result<SocketAddr, AgentError> {
    let local = listener.local_addr().map_err(|source| AgentError::Bind {
        what: "local",
        addr: SocketAddr::new(bind_ip, 0),
        source,
    })?;
    if let Some(a) = configured {
        let full = with_default_port(a, local.port());
        return full
            .parse()
            .map_err(|_| AgentError::Unsupported(format!("advertise address {a:?} is not an IP address or IP:port")));
    }
    let ip = if bind_ip.is_unspecified() { IpAddr::from([127, 0, 0, 1]) } else { bind_ip };
    Ok(SocketAddr::new(ip, local.port()))
}

/// An `advertise` address without a port gets the listener's port.
pub fn with_default_port(addr: &str, port: u16) -> String {
    let has_port = match addr.rsplit_once(':') {
        Some((host, p)) => {
            !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && (!host.contains(':') || host.ends_with(']'))
        }
        None => false,
    };
    if has_port {
        addr.to_string()
    } else if addr.contains(':') && !addr.starts_with('[') {
        format!("[{addr}]:{port}")
    } else {
        format!("{addr}:{port}")
    }
}

/// The license keys and file of the configuration. The file is Nomad's: the `NOMAD_LICENSE`
/// environment variable (the license text), else `NOMAD_LICENSE_PATH`, else
/// `server { license_path }`. A license file that does not verify stops the agent, as it
/// stops a Nomad Enterprise server.
fn license_settings(config: &AgentConfig) -> Result<LicenseSettings, AgentError> {
    let mut settings = LicenseSettings::default();
    for key in &config.server.license_public_keys {
        let key = PublicKey::parse(key).map_err(|e| AgentError::License(format!("server.license_public_keys: {e}")))?;
        settings.public_keys.push(key);
    }
    let from_env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let path = from_env("NOMAD_LICENSE_PATH").map(PathBuf::from).or_else(|| config.server.license_path.clone());
    settings.configured = match (from_env("NOMAD_LICENSE"), path) {
        (Some(text), _) => Some(text),
        (None, Some(path)) => Some(
            std::fs::read_to_string(&path)
                .map_err(|e| AgentError::License(format!("failed to read license file {}: {e}", path.display())))?,
        ),
        (None, None) => None,
    };
    if let Some(text) = &settings.configured {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        license::verify(text, &settings.public_keys, &settings.product, now)
            .map_err(|e| AgentError::License(format!("the configured license is not valid: {e}")))?;
    }
    Ok(settings)
}

/// Why the agent is asked to stop: the signal decides whether it first leaves the gossip pool
/// (`leave_on_interrupt`, `leave_on_terminate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
    /// A host application stopping the agent: no graceful leave.
    Quiet,
}

/// Whether a stop for `why` announces a graceful leave first, as Nomad's agent command decides.
pub fn leaves_on(config: &AgentConfig, why: Stop) -> bool {
    match why {
        Stop::Interrupt => config.leave_on_interrupt,
        Stop::Terminate => config.leave_on_terminate,
        Stop::Quiet => false,
    }
}

/// Runs one server agent until `shutdown` resolves, then stops it cleanly (leaving the gossip
/// pool first when the configuration asks for it on that signal).
pub async fn run(config: AgentConfig, shutdown: impl Future<Output = Stop>) -> Result<(), AgentError> {
    let (_keep, reloads) = tokio::sync::mpsc::channel(1);
    run_with_reloads(config, shutdown, reloads).await
}

/// [`run`], also applying each configuration that arrives on `reloads` (what `raftwarden
/// agent` re-reads on SIGHUP): the TLS certificates and CAs are read again.
pub async fn run_with_reloads(
    config: AgentConfig,
    shutdown: impl Future<Output = Stop>,
    mut reloads: tokio::sync::mpsc::Receiver<AgentConfig>,
) -> Result<(), AgentError> {
    let bind_ip: IpAddr = config
        .bind_addr
        .parse()
        .map_err(|_| AgentError::Unsupported(format!("bind_addr {:?} is not an IP address", config.bind_addr)))?;
    let (data_dir, throwaway) = match &config.data_dir {
        Some(d) => (d.clone(), false),
        None => {
            let d = std::env::temp_dir().join(format!("raftwarden-dev-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&d).map_err(|source| AgentError::DataDir { path: d.clone(), source })?;
            (d, true)
        }
    };
    let tls = tls::load(&config)?;
    tls::warn_at_start(&config);
    if let Some(warning) = config::ignored_warning(&config) {
        tracing::warn!("{warning}");
    }
    // What each listener serves and how this server dials the others, built before anything
    // starts so that a bad file or setting stops the agent at once.
    let (rpc_tls, rpc_server_tls, https_tls) = match &tls {
        Some(t) => (
            config.tls.rpc.then(|| t.rpc_client()).transpose()?,
            config.tls.rpc.then(|| t.rpc_server()).transpose()?,
            config.tls.http.then(|| t.https_server(config.tls.verify_https_client)).transpose()?,
        ),
        None => (None, None, None),
    };
    let http_listener = bind("HTTP", bind_ip, config.ports.http)?;
    let rpc_listener = bind("RPC", bind_ip, config.ports.rpc)?;
    let http_addr = advertise(&http_listener, bind_ip, config.advertise_http.as_deref())?;
    let rpc_addr = advertise(&rpc_listener, bind_ip, config.advertise_rpc.as_deref())?;
    let serf_bind = SocketAddr::new(bind_ip, config.ports.serf);
    let serf_advertise = match config.advertise_serf.as_deref() {
        Some(a) => Some(with_default_port(a, config.ports.serf)),
        None if bind_ip.is_unspecified() => {
            Some(SocketAddr::new(IpAddr::from([127, 0, 0, 1]), config.ports.serf).to_string())
        }
        None => None,
    };

    let settings = Settings {
        name: config.name.clone(),
        region: config.region.clone(),
        datacenter: config.datacenter.clone(),
        data_dir: data_dir.clone(),
        rpc_addr: rpc_addr.to_string(),
        http_addr: http_addr.to_string(),
        bootstrap_expect: config.server.bootstrap_expect.max(1),
        retry_join: config.server.retry_join.clone(),
        retry_interval: config.server.retry_interval,
        retry_max: config.server.retry_max,
        serf_bind: serf_bind.to_string(),
        serf_advertise,
        encrypt: config.server.encrypt.clone(),
        autopilot_defaults: config.autopilot.resolve(),
        scheduler_defaults: config.server.default_scheduler_config.clone().unwrap_or_default(),
        timing: raft_timing(config.server.raft_multiplier),
        raft_snapshot_threshold: config.server.raft_snapshot_threshold,
        raft_trailing_logs: config.server.raft_trailing_logs,
        acl: raftwarden_actors::AclSettings {
            enabled: config.acl_enabled,
            token_min_ttl: config.acl_token_min_ttl,
            token_max_ttl: config.acl_token_max_ttl,
        },
        license: license_settings(&config)?,
        // Raft and server duties only from a server certificate once the RPC port requires
        // one; upgrade mode also takes plain connections, from servers not yet moved to TLS.
        rpc_requires_server_cert: config.tls.rpc && !config.tls.rpc_upgrade_mode,
        rpc_tls,
        telemetry: raftwarden_actors::TelemetrySettings {
            host_label: match (config.telemetry.disable_hostname, config.telemetry.use_node_name) {
                // As Nomad's setupTelemetry: use_node_name wins over disable_hostname.
                (_, true) => raftwarden_actors::HostLabel::NodeName,
                (true, false) => raftwarden_actors::HostLabel::None,
                (false, false) => raftwarden_actors::HostLabel::Machine,
            },
            collection_interval: config.telemetry.collection_interval,
            inmem_interval: config.telemetry.in_memory_collection_interval,
            inmem_retention: config.telemetry.in_memory_retention_period,
        },
    };
    let server = raftwarden_actors::start(settings).await?;
    let serf_addr = server.gossip().local().serf_addr;
    let mut state = http::ApiState::new(server.clone())
        .with_agent_config(self_config(&config, http_addr, rpc_addr, serf_addr))
        .with_prometheus(config.telemetry.prometheus_metrics)
        .with_ui(config.ui.enabled);
    if let Some(s) = &config.snapshot {
        state = state.with_snapshot_schedule(http::SnapshotSchedule {
            interval: s.interval,
            retain: s.retain,
            path: s.path.clone(),
        });
    }
    if !config.ui.enabled {
        // Nomad's registerHandlers (command/agent/http.go) says so once at start.
        tracing::warn!("UI is disabled");
    }
    let limits = &config.limits;
    let on_raft_thread = listeners_on_raft_thread();
    let rpc_listen = Listen::new("RPC", rpc_listener, LISTENER_WORKERS)
        .limits(ConnLimits {
            max_per_client: limits.rpc_max_conns_per_client,
            handshake_timeout: limits.rpc_handshake_timeout,
        })
        .on_calling_thread(on_raft_thread);
    let rpc_listen = rpc_listen.tls(rpc_server_tls).plain_too(config.tls.rpc_upgrade_mode);
    let peer_check = tls.clone().filter(|_| config.tls.rpc);
    let rpc = http::rpc::serve_rpc_on(rpc_listen, server.clone(), peer_check).map_err(|source| AgentError::Bind {
        what: "RPC",
        addr: rpc_addr,
        source,
    })?;
    let api_listen = Listen::new("HTTP", http_listener, LISTENER_WORKERS)
        .limits(ConnLimits {
            max_per_client: limits.http_max_conns_per_client,
            handshake_timeout: limits.https_handshake_timeout,
        })
        .tls(https_tls)
        .on_calling_thread(on_raft_thread);
    let api = http::serve_api_on(api_listen, state, config.http_api_response_headers.clone())
        .map_err(|source| AgentError::Bind { what: "HTTP", addr: http_addr, source })?;
    let (rpc_handle, api_handle) = (rpc.handle(), api.handle());
    actix_rt::spawn(rpc);
    actix_rt::spawn(api);

    println!("==> raftwarden agent configuration:\n");
    println!("       Advertise Addrs: HTTP: {http_addr}; RPC: {rpc_addr}; Serf: {serf_addr}");
    println!(
        "            Bind Addrs: HTTP: [{}:{}]; RPC: {}:{}; Serf: {}:{}",
        bind_ip,
        http_addr.port(),
        bind_ip,
        rpc_addr.port(),
        bind_ip,
        serf_addr.port()
    );
    println!("                Region: {} (DC: {})", config.region, config.datacenter);
    println!("                Server: true (bootstrap_expect = {})", config.server.bootstrap_expect.max(1));
    println!("                  Node: {}.{} ({})", config.name, config.region, server.identity().id);
    println!("               Version: {}\n", raftwarden_actors::VERSION);
    println!("==> raftwarden agent started! Log data will stream in below:");

    let (stop_schedule, schedule_stopped) = tokio::sync::oneshot::channel::<()>();
    if let Some(schedule) = config.snapshot.clone() {
        let settings = crate::cli::snapshot_agent::AgentSettings {
            interval: schedule.interval,
            retain: schedule.retain,
            path: schedule.path,
            stale: false,
        };
        // As Nomad's snapshot agent: the configured token, else NOMAD_TOKEN.
        let token = schedule.token.or_else(|| std::env::var("NOMAD_TOKEN").ok().filter(|t| !t.trim().is_empty()));
        let (membership, me) = (server.membership().clone(), server.identity().id.clone());
        let leads = move || {
            let (membership, me) = (membership.clone(), me.clone());
            async move { matches!(membership.send(GetLeader).await, Ok(Some(l)) if l.id == me) }
        };
        let stopped = async move {
            let _ = schedule_stopped.await;
        };
        // The schedule calls this agent's own API: https with its own certificate when the
        // HTTP port serves TLS.
        let api = match (&config.tls.cert_file, &config.tls.key_file) {
            (Some(cert), Some(key)) if config.tls.http => crate::cli::snapshot_agent::OwnApi::https(
                &http_addr.to_string(),
                config.tls.ca_file.as_deref(),
                cert,
                key,
            ),
            _ => crate::cli::snapshot_agent::OwnApi::http(&http_addr.to_string()),
        };
        actix_rt::spawn(crate::cli::snapshot_agent::run_in_server(api, token, settings, leads, stopped));
    }

    let reloading = {
        let (tls, running) = (tls.clone(), config.tls.clone());
        actix_rt::spawn(async move {
            while let Some(new) = reloads.recv().await {
                tls::reload(tls.as_ref(), &running, new).await;
            }
        })
    };
    let (stop, fault) = tokio::select! {
        why = shutdown => (why, None),
        why = server.raft_stopped() => (Stop::Quiet, Some(AgentError::RaftStopped(why))),
        () = server.retry_join_exhausted() => (Stop::Quiet, Some(AgentError::JoinExhausted)),
    };
    let _ = stop_schedule.send(());
    reloading.abort();
    match &fault {
        None => tracing::info!(signal = ?stop, "shutting down"),
        Some(why) => tracing::error!(error = %why, "shutting down"),
    }
    if leaves_on(&config, stop) {
        println!("==> Gracefully shutting down agent...");
        server.leave().await;
    }
    api_handle.stop(true).await;
    rpc_handle.stop(true).await;
    server.shutdown().await;
    if throwaway {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    match fault {
        None => {
            println!("==> raftwarden agent stopped");
            Ok(())
        }
        Some(why) => Err(why),
    }
}

/// Raft's timeouts scaled by `raft_multiplier`, as Nomad scales hashicorp/raft's election,
/// heartbeat, lease and commit timeouts.
fn raft_timing(multiplier: u32) -> RaftTiming {
    let d = RaftTiming::default();
    let m = multiplier.max(1);
    RaftTiming {
        heartbeat: d.heartbeat * m,
        election_min: d.election_min * m,
        election_max: d.election_max * m,
        install_snapshot_timeout: d.install_snapshot_timeout,
    }
}

/// Resolves on SIGINT or SIGTERM, saying which. On SIGHUP it re-reads the configuration from
/// `args`, as Nomad's agent does, and hands it to the running agent on `reloads`. The handlers
/// are in place when this returns (call it inside the runtime), so a SIGHUP during start-up
/// does not end the process.
fn signals(args: Vec<String>, reloads: tokio::sync::mpsc::Sender<AgentConfig>) -> impl Future<Output = Stop> {
    #[cfg(unix)]
    let handlers = {
        use tokio::signal::unix::signal;
        use tokio::signal::unix::SignalKind;
        match (signal(SignalKind::terminate()), signal(SignalKind::interrupt()), signal(SignalKind::hangup())) {
            (Ok(term), Ok(int), Ok(hup)) => Some((term, int, hup)),
            _ => None,
        }
    };
    async move {
        #[cfg(unix)]
        if let Some((mut term, mut int, mut hup)) = handlers {
            loop {
                tokio::select! {
                    _ = term.recv() => return Stop::Terminate,
                    _ = int.recv() => return Stop::Interrupt,
                    _ = hup.recv() => reload_config(&args, &reloads).await,
                }
            }
        }
        let _ = (args, reloads);
        let _ = tokio::signal::ctrl_c().await;
        Stop::Interrupt
    }
}

/// SIGHUP: the configuration read again from the command line's files and flags, in Nomad's
/// words.
async fn reload_config(args: &[String], reloads: &tokio::sync::mpsc::Sender<AgentConfig>) {
    // Go names SIGHUP "hangup".
    println!("==> Caught signal: hangup");
    println!("==> Reloading configuration...");
    let args = args.to_vec();
    match tokio::task::spawn_blocking(move || config::load(&args)).await {
        Ok(Ok(config)) => {
            let _ = reloads.send(config).await;
        }
        Ok(Err(e)) => {
            eprintln!("==> Error loading configuration: {e}");
            eprintln!("==> Failed to reload configs");
        }
        Err(e) => eprintln!("==> Failed to reload configs: {e}"),
    }
}

/// The agent configuration as `/v1/agent/self` shows it: Nomad's `Config` JSON, with the keys
/// that apply to a raftwarden server.
fn self_config(config: &AgentConfig, http: SocketAddr, rpc: SocketAddr, serf: SocketAddr) -> serde_json::Value {
    serde_json::json!({
        "Region": config.region,
        "Datacenter": config.datacenter,
        "NodeName": config.name,
        "DataDir": config.data_dir.as_ref().map(|d| d.display().to_string()).unwrap_or_default(),
        "LogLevel": config.log_level,
        "LogJson": config.log_json,
        "BindAddr": config.bind_addr,
        "DevMode": config.dev,
        "Ports": {"HTTP": config.ports.http, "RPC": config.ports.rpc, "Serf": config.ports.serf},
        "Addresses": {"HTTP": config.bind_addr, "RPC": config.bind_addr, "Serf": config.bind_addr},
        "AdvertiseAddrs": {"HTTP": http.to_string(), "RPC": rpc.to_string(), "Serf": serf.to_string()},
        "Server": {
            "Enabled": true,
            "BootstrapExpect": config.server.bootstrap_expect,
            "RaftProtocol": 3,
            "RaftSnapshotThreshold": config.server.raft_snapshot_threshold,
            "RaftTrailingLogs": config.server.raft_trailing_logs,
            "ServerJoin": {"RetryJoin": config.server.retry_join, "StartJoin": [], "RetryMaxAttempts": config.server.retry_max, "RetryInterval": config.server.retry_interval.as_nanos() as u64},
        },
        "ACL": {"Enabled": config.acl_enabled},
        "TLSConfig": {
            "EnableHTTP": config.tls.http,
            "EnableRPC": config.tls.rpc,
            "VerifyServerHostname": config.tls.verify_server_hostname,
            "VerifyHTTPSClient": config.tls.verify_https_client,
            "CAFile": config.tls.ca_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            "CertFile": config.tls.cert_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            "KeyFile": config.tls.key_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            "RPCUpgradeMode": config.tls.rpc_upgrade_mode,
            "TLSCipherSuites": config.tls.cipher_suites.join(","),
            "TLSMinVersion": match config.tls.min_version {
                config::TlsVersion::Tls10 => "tls10",
                config::TlsVersion::Tls11 => "tls11",
                config::TlsVersion::Tls12 => "tls12",
                config::TlsVersion::Tls13 => "tls13",
            },
        },
        "Telemetry": {
            "PrometheusMetrics": config.telemetry.prometheus_metrics,
            "DisableHostname": config.telemetry.disable_hostname,
            "UseNodeName": config.telemetry.use_node_name,
            "CollectionInterval": go_duration(config.telemetry.collection_interval),
            "InMemoryCollectionInterval": go_duration(config.telemetry.in_memory_collection_interval),
            "InMemoryRetentionPeriod": go_duration(config.telemetry.in_memory_retention_period),
        },
        "UI": {
            "Enabled": config.ui.enabled,
            "ShowCLIHints": config.ui.show_cli_hints,
            "Consul": {"BaseUIURL": config.ui.consul_ui_url.clone().unwrap_or_default()},
            "Vault": {"BaseUIURL": config.ui.vault_ui_url.clone().unwrap_or_default()},
            "Label": config.ui.label.as_ref().map(|l| serde_json::json!({
                "Text": l.text, "BackgroundColor": l.background_color, "TextColor": l.text_color,
            })),
        },
        "LeaveOnInt": config.leave_on_interrupt,
        "LeaveOnTerm": config.leave_on_terminate,
        "Version": {"Version": raftwarden_actors::VERSION, "VersionPrerelease": "", "VersionMetadata": "", "Revision": raftwarden_actors::REVISION},
    })
}

/// A duration as Go's `time.Duration.String()` writes it (Nomad's HCL strings in its JSON).
fn go_duration(d: std::time::Duration) -> String {
    crate::go::duration::format(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn init_logging(level: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RAFTWARDEN_LOG").unwrap_or_else(|_| {
        // openraft is chatty at INFO; keep it one level quieter than ours.
        let ours = level.to_ascii_lowercase();
        let theirs = if ours == "info" { "warn".to_string() } else { ours.clone() };
        tracing_subscriber::EnvFilter::new(format!("{ours},openraft={theirs},actix_server=warn"))
    });
    // Colour only for a person at a terminal: a file or a log collector gets plain lines.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    // openraft's error per RPC to an unreachable peer gives way to the network layer's one line
    // when the peer goes and one when it is back (log_filter.rs).
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let quiet = log_filter::QuietUnreachablePeers;
    let _ = if json { builder.json().finish().with(quiet).try_init() } else { builder.finish().with(quiet).try_init() };
}

/// A write past the process's file size limit (RLIMIT_FSIZE) then fails with EFBIG, which
/// the store reports like a full disk, instead of killing the process with SIGXFSZ.
fn ignore_file_size_signal() {
    #[cfg(unix)]
    // SAFETY: sets the disposition of one signal to "ignore"; no handler runs.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// `raftwarden agent ...`: returns the process exit code.
pub fn main(args: &[String]) -> i32 {
    let config = match config::load(args) {
        Ok(c) => c,
        Err(ConfigError::Help(usage)) => {
            print!("{usage}");
            return 0;
        }
        Err(e @ (ConfigError::UnknownFlag(_) | ConfigError::Argument(_))) => {
            eprintln!("==> Error loading configuration: {e}\n    (raftwarden agent -help lists the flags)");
            return 1;
        }
        // Nomad finds these while it starts the server and the HTTP server, after the files
        // load, and says so.
        Err(e @ ConfigError::ServerSetup(_)) => {
            eprintln!("==> Error starting agent: {e}");
            return 1;
        }
        Err(e @ ConfigError::HttpSetup(_)) => {
            eprintln!("==> Error starting http server: {e}");
            return 1;
        }
        Err(e) => {
            eprintln!("==> Error loading configuration: {e}");
            return 1;
        }
    };
    init_logging(&config.log_level, config.log_json);
    // Test builds only (actors' fault-injection feature): a misspelt crash point stops here.
    if let Err(e) = raftwarden_actors::fault::check_env() {
        eprintln!("==> Error starting agent: {e}");
        return 1;
    }
    ignore_file_size_signal();
    let system = actix_rt::System::new();
    let (reload, reloads) = tokio::sync::mpsc::channel(1);
    let args = args.to_vec();
    match system.block_on(async move { run_with_reloads(config, signals(args, reload), reloads).await }) {
        Ok(()) => 0,
        Err(e @ AgentError::RaftStopped(_)) => {
            eprintln!("==> Error: {e}");
            1
        }
        Err(e) => {
            eprintln!("==> Error starting agent: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_default_port;

    #[test]
    fn retry_join_default_port() {
        assert_eq!(with_default_port("10.0.0.6", 4647), "10.0.0.6:4647");
        assert_eq!(with_default_port("10.0.0.6:5000", 4647), "10.0.0.6:5000");
        assert_eq!(with_default_port("server-1.example", 4647), "server-1.example:4647");
        assert_eq!(with_default_port("::1", 4647), "[::1]:4647");
        assert_eq!(with_default_port("[::1]:9", 4647), "[::1]:9");
        assert_eq!(with_default_port("[::1]", 4647), "[::1]:4647");
    }
}
