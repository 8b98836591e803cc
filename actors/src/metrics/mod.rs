//! Telemetry of one server, in the model Nomad's go-metrics uses: gauges, counters and samples
//! (timers in milliseconds), each with labels, written to two sinks at once as Nomad's fanout
//! sink does:
//!
//! ```text
//! set_gauge / incr_counter / add_sample
//!   ├─> Inmem: 10 s intervals kept for a minute (go-metrics' InmemSink)  ─> GET /v1/metrics
//!   └─> Prometheus recorder (cumulative, local to this server)            ─> ?format=prometheus
//! ```
//!
//! [`sample`] runs on every server and, once a second, turns raft's metrics, the store's
//! counters and (on the leader) autopilot's health into gauges and counters. It sits in a
//! child module because it polls an actor: the sinks here are what the store and the
//! actors write to, below all of them. Names follow
//! Nomad's where Nomad has the metric (`nomad.raft.lastIndex`,
//! `nomad.nomad.autopilot.healthy`); every metric carries the `host` label, as Nomad's default
//! telemetry (`disable_hostname = false`) does. Nothing here is global: each server owns its
//! sinks, so several servers in one process report apart.

pub(crate) mod sample;

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::collections::VecDeque;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::SystemTime;

use metrics::Recorder;
use metrics_exporter_prometheus::PrometheusBuilder;
use metrics_exporter_prometheus::PrometheusHandle;
use metrics_exporter_prometheus::PrometheusRecorder;

/// go-metrics' in-memory sink as Nomad configures it by default: 10 s intervals, one minute
/// kept.
const INTERVAL_SECS: u64 = 10;
const RETAINED_INTERVALS: usize = 6;

/// Counters the raft store bumps on its own threads, read by the sampler (`metrics::sample`).
#[derive(Debug, Default)]
pub struct StoreCounters {
    /// Durable log appends (each one fdatasync of the log segment).
    pub fsyncs: AtomicU64,
    /// The last committed log index openraft saved.
    pub committed: AtomicU64,
    /// Log compactions (purges of entries a snapshot covers), and their total time in
    /// microseconds: hashicorp/raft's `raft.compactLogs` timer.
    pub compactions: AtomicU64,
    pub compaction_micros: AtomicU64,
}

/// One label, as go-metrics' `Label`.
pub type Label = (String, String);

/// The metrics of one server. Cheap to clone; every clone writes the same sinks.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    /// Empty: no `host` label (`disable_hostname`).
    host: String,
    inmem: Mutex<Inmem>,
    /// The Prometheus handle of each counter and sample series seen, by its go-metrics hash:
    /// an HTTP request records two, and registering builds the names and labels again.
    counters: Mutex<HashMap<String, metrics::Counter>>,
    histograms: Mutex<HashMap<String, metrics::Histogram>>,
    prometheus: PrometheusRecorder,
    handle: PrometheusHandle,
}

static METADATA: metrics::Metadata<'static> =
    metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

impl Metrics {
    /// Sinks whose metrics carry `host` as their host label, with Nomad's default intervals.
    pub fn new(host: &str) -> Self {
        Self::with_telemetry(host, &crate::settings::TelemetrySettings::default())
    }

    /// Sinks with the in-memory intervals `telemetry` gives; an empty `host` puts no `host`
    /// label on any metric (`disable_hostname`).
    pub fn with_telemetry(host: &str, telemetry: &crate::settings::TelemetrySettings) -> Self {
        // go-metrics' Prometheus sink reports samples as summaries with these quantiles.
        let builder = PrometheusBuilder::new();
        let builder = builder.set_quantiles(&[0.5, 0.9, 0.99]).unwrap_or_else(|_| PrometheusBuilder::new());
        let prometheus = builder.build_recorder();
        let handle = prometheus.handle();
        let inmem = Inmem::new(telemetry.inmem_interval, telemetry.inmem_retention);
        Self {
            inner: Arc::new(Inner {
                host: host.into(),
                inmem: Mutex::new(inmem),
                counters: Mutex::default(),
                histograms: Mutex::default(),
                prometheus,
                handle,
            }),
        }
    }

    fn labels(&self, labels: &[(&str, &str)]) -> Vec<Label> {
        let mut out: Vec<Label> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        if !self.inner.host.is_empty() {
            out.push(("host".into(), self.inner.host.clone()));
        }
        out
    }

    /// go-metrics' hash of the series: what [`hash`] makes of `name` and [`Metrics::labels`].
    fn series(&self, name: &str, labels: &[(&str, &str)]) -> String {
        let host = (!self.inner.host.is_empty()).then_some(("host", self.inner.host.as_str()));
        hash(name, labels.iter().copied().chain(host))
    }

    fn prometheus_key(name: &str, labels: &[Label]) -> metrics::Key {
        let labels: Vec<metrics::Label> =
            labels.iter().map(|(k, v)| metrics::Label::new(prometheus_name(k), v.clone())).collect();
        metrics::Key::from_parts(prometheus_name(name), labels)
    }

    /// go-metrics' `SetGaugeWithLabels`.
    pub fn set_gauge(&self, name: &str, labels: &[(&str, &str)], value: f32) {
        let labels = self.labels(labels);
        let key = Self::prometheus_key(name, &labels);
        self.inner.prometheus.register_gauge(&key, &METADATA).set(f64::from(value));
        if let Ok(mut m) = self.inner.inmem.lock() {
            m.current(now_secs()).set_gauge(name, labels, value);
        }
    }

    /// go-metrics' `IncrCounterWithLabels`.
    pub fn incr_counter(&self, name: &str, labels: &[(&str, &str)], by: u64) {
        let series = self.series(name, labels);
        let register =
            || self.inner.prometheus.register_counter(&Self::prometheus_key(name, &self.labels(labels)), &METADATA);
        if let Some(counter) = known_handle(&self.inner.counters, &series, register) {
            counter.increment(by);
        }
        if let Ok(mut m) = self.inner.inmem.lock() {
            let i = m.current(now_secs());
            let secs = i.secs;
            i.counters.ingest(series, name, || self.labels(labels), by as f32, secs);
        }
    }

    /// go-metrics' `AddSampleWithLabels` (a timer's value is in milliseconds).
    pub fn add_sample(&self, name: &str, labels: &[(&str, &str)], value: f32) {
        let series = self.series(name, labels);
        let register =
            || self.inner.prometheus.register_histogram(&Self::prometheus_key(name, &self.labels(labels)), &METADATA);
        if let Some(histogram) = known_handle(&self.inner.histograms, &series, register) {
            histogram.record(f64::from(value));
        }
        if let Ok(mut m) = self.inner.inmem.lock() {
            let i = m.current(now_secs());
            let secs = i.secs;
            i.samples.ingest(series, name, || self.labels(labels), value, secs);
        }
    }

    /// What `GET /v1/metrics` shows: the last finished interval (the current one if it is the
    /// only one), as go-metrics' `DisplayMetrics`.
    pub fn summary(&self) -> Summary {
        let now = now_secs();
        match self.inner.inmem.lock() {
            Ok(mut m) => m.display(now),
            Err(_) => Interval::new(now - now % INTERVAL_SECS, INTERVAL_SECS).summary(),
        }
    }

    /// The Prometheus text exposition (format 0.0.4) of everything recorded so far, every
    /// metric with `# HELP` and `# TYPE` as Go's client writes them (go-metrics' Prometheus
    /// sink uses the metric's name as its help).
    pub fn prometheus_text(&self) -> String {
        with_help(&self.inner.handle.render())
    }

    /// Drains the Prometheus summaries' buckets; [`sample`] calls it every tick.
    fn upkeep(&self) {
        self.inner.handle.run_upkeep();
    }
}

/// Adds `# HELP <name> <name>` before each `# TYPE <name> ...` that has no help of its own.
fn with_help(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    let mut helped = None::<&str>;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            helped = rest.split(' ').next();
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split(' ').next().unwrap_or_default();
            if helped != Some(name) {
                out.push_str(&format!("# HELP {name} {name}\n"));
            }
            helped = None;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// go-metrics' Prometheus sink: dots (and other separators) become underscores.
pub fn prometheus_name(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == ':' { c } else { '_' }).collect()
}

/// The Prometheus handle kept for `series`, registered by `register` the first time the series
/// is seen (a handle is a shared pointer: cloning it is cheap).
fn known_handle<H: Clone>(known: &Mutex<HashMap<String, H>>, series: &str, register: impl FnOnce() -> H) -> Option<H> {
    let mut known = known.lock().ok()?;
    if let Some(handle) = known.get(series) {
        return Some(handle.clone());
    }
    let handle = register();
    known.insert(series.to_string(), handle.clone());
    Some(handle)
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// The intervals the in-memory sink keeps, oldest first.
struct Inmem {
    intervals: VecDeque<Interval>,
    /// Interval length in whole seconds (at least 1) and how many are kept (at least 1).
    every: u64,
    retained: usize,
}

impl Default for Inmem {
    fn default() -> Self {
        Self { intervals: VecDeque::new(), every: INTERVAL_SECS, retained: RETAINED_INTERVALS }
    }
}

impl Inmem {
    /// go-metrics' `NewInmemSink(interval, retain)`: `retain / interval` intervals kept.
    fn new(interval: std::time::Duration, retain: std::time::Duration) -> Self {
        let every = interval.as_secs().max(1);
        let retained = usize::try_from(retain.as_secs() / every).unwrap_or(usize::MAX).clamp(1, 10_000);
        Self { intervals: VecDeque::new(), every, retained }
    }

    /// The interval `now` falls in, created (and the oldest dropped) when a new one starts.
    fn current(&mut self, now: u64) -> &mut Interval {
        let start = now - now % self.every;
        if self.intervals.back().map(|i| i.start) != Some(start) {
            self.intervals.push_back(Interval::new(start, self.every));
            while self.intervals.len() > self.retained {
                self.intervals.pop_front();
            }
        }
        let last = self.intervals.len() - 1;
        &mut self.intervals[last]
    }

    fn display(&mut self, now: u64) -> Summary {
        self.current(now);
        let n = self.intervals.len();
        let shown = if n == 1 { &self.intervals[0] } else { &self.intervals[n - 2] };
        shown.summary()
    }
}

/// One interval's metrics, keyed by go-metrics' hash (`name;label=value...`), which also
/// orders the output.
struct Interval {
    start: u64,
    /// Its length in seconds, for the counters' rates.
    secs: u64,
    gauges: BTreeMap<String, Gauge>,
    counters: Aggregates,
    samples: Aggregates,
}

impl Interval {
    fn new(start: u64, secs: u64) -> Self {
        Self { start, secs, gauges: BTreeMap::new(), counters: Aggregates::default(), samples: Aggregates::default() }
    }

    fn set_gauge(&mut self, name: &str, labels: Vec<Label>, value: f32) {
        self.gauges.insert(hash_of(name, &labels), Gauge { name: name.into(), value, labels });
    }

    fn summary(&self) -> Summary {
        Summary {
            timestamp_secs: self.start,
            gauges: self.gauges.values().cloned().collect(),
            counters: self.counters.0.values().cloned().collect(),
            samples: self.samples.0.values().cloned().collect(),
        }
    }
}

/// go-metrics' key of a series: its name, then `;key=value` for each label.
fn hash<'a>(name: &str, labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut h = String::with_capacity(64);
    h.push_str(name);
    for (k, v) in labels {
        h.push(';');
        h.push_str(k);
        h.push('=');
        h.push_str(v);
    }
    h
}

/// [`hash`] of labels as they are kept.
fn hash_of(name: &str, labels: &[Label]) -> String {
    hash(name, labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

#[derive(Default)]
struct Aggregates(BTreeMap<String, Aggregate>);

impl Aggregates {
    /// Adds `value` to the series `series` (its go-metrics hash), made from `name` and
    /// `labels()` the first time it is seen in the interval.
    fn ingest(
        &mut self,
        series: String,
        name: &str,
        labels: impl FnOnce() -> Vec<Label>,
        value: f32,
        interval_secs: u64,
    ) {
        let entry = match self.0.get_mut(&series) {
            Some(entry) => entry,
            None => self.0.entry(series).or_insert_with(|| Aggregate {
                name: name.into(),
                labels: labels(),
                count: 0,
                rate: 0.0,
                sum: 0.0,
                sum_sq: 0.0,
                min: 0.0,
                max: 0.0,
            }),
        };
        entry.ingest(f64::from(value), interval_secs);
    }
}

/// A gauge's last value in an interval.
#[derive(Clone, Debug, PartialEq)]
pub struct Gauge {
    pub name: String,
    pub value: f32,
    pub labels: Vec<Label>,
}

/// go-metrics' `AggregateSample`: what an interval saw of a counter or a sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Aggregate {
    pub name: String,
    pub labels: Vec<Label>,
    pub count: u64,
    /// `sum` per second of the interval.
    pub rate: f64,
    pub sum: f64,
    sum_sq: f64,
    pub min: f64,
    pub max: f64,
}

impl Aggregate {
    fn ingest(&mut self, v: f64, interval_secs: u64) {
        self.count += 1;
        self.sum += v;
        self.sum_sq += v * v;
        if v < self.min || self.count == 1 {
            self.min = v;
        }
        if v > self.max || self.count == 1 {
            self.max = v;
        }
        self.rate = self.sum / interval_secs.max(1) as f64;
    }

    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        self.sum / self.count as f64
    }

    /// go-metrics' sample standard deviation (0 for fewer than two values).
    pub fn stddev(&self) -> f64 {
        let n = self.count as f64;
        let div = n * (n - 1.0);
        if div == 0.0 {
            return 0.0;
        }
        ((n * self.sum_sq - self.sum * self.sum) / div).max(0.0).sqrt()
    }
}

/// One interval as `GET /v1/metrics` shows it, ordered as go-metrics orders it.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Start of the interval, Unix seconds.
    pub timestamp_secs: u64,
    pub gauges: Vec<Gauge>,
    pub counters: Vec<Aggregate>,
    pub samples: Vec<Aggregate>,
}

/// How many entries a follower lacks: everything after what it has matched (all of the log if
/// it matched nothing yet; openraft's first entry has index 0).
pub fn replication_lag(last_index: u64, matched: Option<u64>) -> u64 {
    match matched {
        Some(m) => last_index.saturating_sub(m),
        None => last_index + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_follow_go_metrics() {
        let mut a = Aggregates::default();
        for v in [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0] {
            a.ingest("x".into(), "x", Vec::new, v, INTERVAL_SECS);
        }
        let s = &a.0["x"];
        assert_eq!((s.count, s.sum, s.min, s.max), (8, 40.0, 2.0, 9.0));
        assert_eq!(s.mean(), 5.0);
        assert_eq!(s.rate, 4.0);
        assert!((s.stddev() - 2.138_089_935).abs() < 1e-6, "{}", s.stddev());
        let mut one = Aggregates::default();
        one.ingest("y".into(), "y", Vec::new, 3.0, INTERVAL_SECS);
        assert_eq!(one.0["y"].stddev(), 0.0);
    }

    #[test]
    fn display_shows_the_last_finished_interval() {
        let mut m = Inmem::default();
        m.current(100).set_gauge("g", vec![], 1.0);
        assert_eq!(m.display(105).gauges.len(), 1, "the only interval is shown");
        m.current(112).set_gauge("g", vec![], 2.0);
        let s = m.display(115);
        assert_eq!((s.timestamp_secs, s.gauges[0].value), (100, 1.0));
        // An interval with nothing recorded still starts on display.
        assert_eq!(m.display(125).timestamp_secs, 110);
        for t in 0..20 {
            m.current(200 + t * 10);
        }
        assert_eq!(m.intervals.len(), RETAINED_INTERVALS);
    }

    #[test]
    fn sorted_by_name_then_labels() {
        let mut i = Interval::new(0, INTERVAL_SECS);
        i.set_gauge("b", vec![], 1.0);
        i.set_gauge("a", vec![("peer_id".into(), "2".into())], 1.0);
        i.set_gauge("a", vec![("peer_id".into(), "1".into())], 1.0);
        let names: Vec<String> = i.summary().gauges.iter().map(|g| format!("{}{:?}", g.name, g.labels)).collect();
        assert_eq!(names, ["a[(\"peer_id\", \"1\")]", "a[(\"peer_id\", \"2\")]", "b[]"]);
    }

    #[test]
    fn lag_and_names() {
        assert_eq!(replication_lag(10, Some(7)), 3);
        assert_eq!(replication_lag(10, Some(10)), 0);
        assert_eq!(replication_lag(10, None), 11);
        assert_eq!(prometheus_name("nomad.raft.lastIndex"), "nomad_raft_lastIndex");
        assert_eq!(prometheus_name("a-b/c d"), "a_b_c_d");
    }

    #[test]
    fn both_sinks_see_every_write() {
        let m = Metrics::new("h1");
        m.incr_counter("nomad.http.requests", &[("route", "/v1/metrics")], 2);
        m.add_sample("nomad.http.latency", &[("route", "/v1/metrics")], 1.5);
        m.set_gauge("nomad.raft.term", &[], 3.0);
        let text = m.prometheus_text();
        assert!(text.contains("nomad_http_requests{route=\"/v1/metrics\",host=\"h1\"} 2"), "{text}");
        assert!(text.contains("nomad_raft_term{host=\"h1\"} 3"), "{text}");
        assert!(text.contains("nomad_http_latency{route=\"/v1/metrics\",host=\"h1\",quantile=\"0.5\"}"), "{text}");
        let s = m.summary();
        assert_eq!(s.counters[0].sum, 2.0);
        assert_eq!(s.samples[0].max, 1.5);
        assert_eq!(s.gauges[0].labels, [("host".to_string(), "h1".to_string())]);
        assert!(text.contains("# HELP nomad_raft_term nomad_raft_term\n# TYPE nomad_raft_term gauge\n"), "{text}");
        let types = text.lines().filter(|l| l.starts_with("# TYPE ")).count();
        assert_eq!(text.lines().filter(|l| l.starts_with("# HELP ")).count(), types, "{text}");
    }

    #[test]
    fn a_series_seen_again_adds_to_both_sinks() {
        for host in ["", "h1"] {
            let m = Metrics::new(host);
            let labels = [("method", "PUT"), ("route", "/v1/var/")];
            assert_eq!(m.series("nomad.http.requests", &labels), hash_of("nomad.http.requests", &m.labels(&labels)));
            for _ in 0..3 {
                m.incr_counter("nomad.http.requests", &labels, 2);
                m.add_sample("nomad.http.latency", &labels, 1.0);
            }
            m.incr_counter("nomad.http.requests", &[("method", "GET"), ("route", "/v1/var/")], 1);
            let s = m.summary();
            assert_eq!(s.counters.iter().map(|c| c.sum).collect::<Vec<_>>(), [1.0, 6.0]);
            assert_eq!((s.samples.len(), s.samples[0].count), (1, 3));
            let text = m.prometheus_text();
            assert!(text.contains("nomad_http_requests{method=\"PUT\",route=\"/v1/var/\""), "{text}");
            assert!(
                text.lines().any(|l| l.starts_with("nomad_http_requests{method=\"PUT\"") && l.ends_with(" 6")),
                "{text}"
            );
            assert!(text.contains("nomad_http_latency_count{method=\"PUT\",route=\"/v1/var/\""), "{text}");
        }
    }

    #[test]
    fn telemetry_settings_shape_the_sinks() {
        let t = crate::settings::TelemetrySettings {
            inmem_interval: std::time::Duration::from_secs(5),
            inmem_retention: std::time::Duration::from_secs(20),
            ..Default::default()
        };
        let m = Metrics::with_telemetry("", &t);
        m.set_gauge("g", &[], 1.0);
        assert!(m.summary().gauges[0].labels.is_empty(), "disable_hostname: no host label");
        assert!(m.prometheus_text().contains("\ng 1\n"), "{}", m.prometheus_text());
        let mut inmem = Inmem::new(t.inmem_interval, t.inmem_retention);
        for s in 0..100 {
            inmem.current(s * 5);
        }
        assert_eq!((inmem.every, inmem.intervals.len()), (5, 4));
        assert_eq!(inmem.display(503).timestamp_secs, 495);
    }
}
