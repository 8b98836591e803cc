//! What every handler starts from and returns: [`ApiState`] (the server a handler talks to),
//! [`Req`] (one request with its query, token and region checks) and [`Reply`].

use actix_web::HttpRequest;
use actix_web::HttpResponse;
use raftwarden_actors::Call;
use raftwarden_actors::Caller;
use raftwarden_actors::Server;

use super::query::is_pretty;
use super::query::parse_cas;
use super::query::parse_read;
use super::query::parse_token;
use super::query::parse_write;
use super::query::Query;
use super::query::ReadOptions;
use super::respond::ApiError;

/// What the API handlers share: the server's actor addresses.
#[derive(Clone)]
pub struct ApiState {
    server: Server,
    /// The agent configuration `/v1/agent/self` shows (Nomad's `Config` JSON); `None` when
    /// embedded.
    agent_config: Option<std::sync::Arc<serde_json::Value>>,
    /// `ui { enabled }`: whether `/ui/` serves the web UI or Nomad's "UI is disabled" page.
    ui: bool,
    /// `telemetry { prometheus_metrics }`: whether `?format=prometheus` answers (Nomad's
    /// default: off, 415 `Prometheus is not enabled`).
    prometheus_metrics: bool,
    /// The server's own `snapshot { }` schedule, which `/v1/agent/snapshot-schedule` reports.
    snapshot_schedule: Option<std::sync::Arc<SnapshotSchedule>>,
}

/// A server's scheduled snapshots: how often, how many kept, and the directory holding the
/// archives and the schedule's `agent-status.json`.
#[derive(Clone, Debug)]
pub struct SnapshotSchedule {
    pub interval: std::time::Duration,
    pub retain: u64,
    pub path: std::path::PathBuf,
}

impl ApiState {
    pub fn new(server: Server) -> Self {
        Self { server, agent_config: None, ui: true, prometheus_metrics: false, snapshot_schedule: None }
    }

    /// Serves `GET /v1/metrics?format=prometheus` (Nomad's `telemetry { prometheus_metrics }`).
    pub fn with_prometheus(mut self, enabled: bool) -> Self {
        self.prometheus_metrics = enabled;
        self
    }

    pub fn prometheus_metrics(&self) -> bool {
        self.prometheus_metrics
    }

    /// `ui { enabled = false }`: `/ui/` answers Nomad's "UI is disabled" page instead.
    pub fn with_ui(mut self, enabled: bool) -> Self {
        self.ui = enabled;
        self
    }

    /// Adds the server's snapshot schedule that `/v1/agent/snapshot-schedule` reports.
    pub fn with_snapshot_schedule(mut self, schedule: SnapshotSchedule) -> Self {
        self.snapshot_schedule = Some(std::sync::Arc::new(schedule));
        self
    }

    pub fn snapshot_schedule(&self) -> Option<&SnapshotSchedule> {
        self.snapshot_schedule.as_deref()
    }

    pub fn ui_enabled(&self) -> bool {
        self.ui
    }

    /// Adds the agent configuration that `/v1/agent/self` returns.
    pub fn with_agent_config(mut self, config: serde_json::Value) -> Self {
        self.agent_config = Some(std::sync::Arc::new(config));
        self
    }

    pub fn agent_config(&self) -> Option<&serde_json::Value> {
        self.agent_config.as_deref()
    }

    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The region this server answers for (other regions are `No path to region`).
    pub fn region(&self) -> &str {
        &self.server.settings().region
    }
}

/// What every handler needs from the request.
pub struct Req<'a> {
    pub http: &'a HttpRequest,
    pub query: Query,
    pub pretty: bool,
    pub state: &'a ApiState,
}

impl<'a> Req<'a> {
    pub fn new(http: &'a HttpRequest, state: &'a ApiState) -> Self {
        let query = Query::parse(http.query_string());
        let pretty = is_pretty(&query);
        Self { http, query, pretty, state }
    }

    pub fn token(&self) -> String {
        let header = |name: &str| self.http.headers().get(name).and_then(|v| v.to_str().ok());
        parse_token(header("X-Nomad-Token"), header("Authorization"))
    }

    /// `op` with this request's caller (its token, or anonymous), for the actor that runs it:
    /// the server that runs the operation checks the caller.
    pub fn call<M>(&self, op: M) -> Call<M> {
        Call::new(Caller::token(self.token()), op)
    }

    pub(super) fn read(&self) -> Result<ReadOptions, ApiError> {
        let opts = parse_read(&self.query, self.token(), self.state.region()).map_err(ApiError::bad_request)?;
        self.check_region(&opts.region)?;
        Ok(opts)
    }

    pub(super) fn write(&self) -> Result<(), ApiError> {
        let opts = parse_write(&self.query, self.token(), self.state.region());
        self.check_region(&opts.region)
    }

    /// Another region would be forwarded to one of its servers; this server knows none.
    fn check_region(&self, region: &str) -> Result<(), ApiError> {
        if region != self.state.region() {
            return Err(ApiError::coded(500, "No path to region"));
        }
        Ok(())
    }

    pub(super) fn cas(&self) -> Result<Option<u64>, ApiError> {
        parse_cas(&self.query).map_err(ApiError::bad_request)
    }
}

/// The handlers' result: a response, or an error that [`ApiError`] shapes.
pub type Reply = Result<HttpResponse, ApiError>;
