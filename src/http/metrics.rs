//! `GET /v1/metrics`: this server's telemetry, in go-metrics' JSON summary (what Nomad's
//! `InmemSink.DisplayMetrics` returns) or, with `?format=prometheus` and `telemetry {
//! prometheus_metrics = true }`, in Prometheus' text exposition format 0.0.4. Also the
//! middleware that times every API request per route.
//!
//! ```text
//! request ─> track (outermost middleware) ─> dispatch ─> handler
//!              └─ nomad.http.requests{method,route,code} +1, nomad.http.latency{method,route} ms
//! ```

use std::collections::BTreeMap;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::ServiceRequest;
use actix_web::dev::ServiceResponse;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web;
use actix_web::HttpResponse;
use raftwarden_actors::metrics::Aggregate;
use raftwarden_actors::metrics::Gauge;
use raftwarden_actors::metrics::Metrics;
use raftwarden_actors::metrics::Summary;
use serde::Serialize;

use super::request::Reply;
use super::request::Req;
use super::respond;
use super::respond::ApiError;
use crate::go::json_float;

/// What Go's `promhttp` answers a scraper that does not ask for OpenMetrics.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /v1/metrics[?format=prometheus]`.
pub async fn metrics(r: Req<'_>) -> Reply {
    // ACL: none. Nomad's MetricsRequest checks no token: metrics are readable by anyone who
    // reaches the HTTP port.
    if r.http.method() != Method::GET {
        return Err(ApiError::coded(405, "Invalid method"));
    }
    let metrics = r.state.server().metrics();
    if r.query.get("format") == Some("prometheus") {
        // Nomad's MetricsRequest (command/agent/metrics_endpoint.go): only when enabled.
        if !r.state.prometheus_metrics() {
            return Err(ApiError::coded(415, "Prometheus is not enabled"));
        }
        return Ok(HttpResponse::Ok().insert_header((CONTENT_TYPE, PROMETHEUS_TEXT)).body(metrics.prometheus_text()));
    }
    Ok(respond::ok_json(&MetricsSummary::from(&metrics.summary()), r.pretty))
}

/// The route pattern a request is counted under: the route that [`super::dispatch`] sends it
/// to (variables by their pattern, never their path), so that labels stay few.
pub fn route_pattern(path: &str) -> &'static str {
    const EXACT: [&str; 22] = [
        "/v1/acl/bootstrap",
        "/v1/acl/policies",
        "/v1/acl/tokens",
        "/v1/acl/token",
        "/v1/acl/token/self",
        "/v1/agent/members",
        "/v1/agent/join",
        "/v1/agent/force-leave",
        "/v1/agent/self",
        "/v1/agent/health",
        "/v1/var",
        "/v1/vars",
        "/v1/metrics",
        "/v1/operator/raft",
        "/v1/operator/snapshot",
        "/v1/operator/autopilot/configuration",
        "/v1/operator/autopilot/health",
        "/v1/operator/scheduler/configuration",
        "/v1/operator/license",
        "/v1/operator/utilization",
        "/v1/status/leader",
        "/v1/status/peers",
    ];
    if let Some(p) = EXACT.iter().find(|p| **p == path) {
        return p;
    }
    if let Some(rest) = path.strip_prefix("/v1/operator/raft/") {
        // The same prefix rules as the dispatcher.
        for route in ["configuration", "peer", "transfer-leadership"] {
            if rest.starts_with(route) {
                return match route {
                    "configuration" => "/v1/operator/raft/configuration",
                    "peer" => "/v1/operator/raft/peer",
                    _ => "/v1/operator/raft/transfer-leadership",
                };
            }
        }
        return "/v1/operator/raft/";
    }
    if path.starts_with("/v1/var/") {
        return "/v1/var/:path";
    }
    if path.starts_with("/v1/acl/policy/") {
        return "/v1/acl/policy/:name";
    }
    if path.starts_with("/v1/acl/token/") {
        return "/v1/acl/token/:accessor";
    }
    if path == "/" {
        return "/";
    }
    if path.starts_with("/ui/") {
        return "/ui/";
    }
    "unmatched"
}

/// Middleware: counts and times every request by method, route pattern and status code.
/// Registered outermost in `serve_api`, so the time includes compression and headers.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = req.method().to_string();
    let route = route_pattern(req.path());
    let start = Instant::now();
    let res = next.call(req).await;
    if let Some(m) = metrics {
        let code = match &res {
            Ok(r) => r.status().as_u16(),
            Err(e) => e.as_response_error().status_code().as_u16(),
        };
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        m.incr_counter("nomad.http.requests", &[("method", &method), ("route", route), ("code", &code.to_string())], 1);
        m.add_sample("nomad.http.latency", &[("method", &method), ("route", route)], ms as f32);
    }
    res
}

/// go-metrics' `MetricsSummary` on the wire.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MetricsSummary {
    timestamp: String,
    gauges: Vec<GaugeValue>,
    /// Nomad emits no key/value points; always empty, never null.
    points: [(); 0],
    counters: Vec<SampledValue>,
    samples: Vec<SampledValue>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GaugeValue {
    name: String,
    value: GoFloat,
    labels: BTreeMap<String, String>,
}

/// `SampledValue`: the embedded `AggregateSample`'s fields come between `Name` and `Mean`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SampledValue {
    name: String,
    count: u64,
    rate: GoFloat,
    sum: GoFloat,
    min: GoFloat,
    max: GoFloat,
    mean: GoFloat,
    stddev: GoFloat,
    labels: BTreeMap<String, String>,
}

/// A float written as Nomad's JSON codec writes it (`1.0`, not `1`); `.1` says it is a
/// `float32` field.
struct GoFloat(f64, bool);

impl Serialize for GoFloat {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let raw =
            serde_json::value::RawValue::from_string(json_float(self.0, self.1)).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }
}

fn labels(l: &[(String, String)]) -> BTreeMap<String, String> {
    l.iter().cloned().collect()
}

impl From<&Summary> for MetricsSummary {
    fn from(s: &Summary) -> Self {
        let sampled = |a: &Aggregate| SampledValue {
            name: a.name.clone(),
            count: a.count,
            rate: GoFloat(a.rate, false),
            sum: GoFloat(a.sum, false),
            min: GoFloat(a.min, false),
            max: GoFloat(a.max, false),
            mean: GoFloat(a.mean(), false),
            stddev: GoFloat(a.stddev(), false),
            labels: labels(&a.labels),
        };
        let gauge = |g: &Gauge| GaugeValue {
            name: g.name.clone(),
            value: GoFloat(f64::from(g.value), true),
            labels: labels(&g.labels),
        };
        Self {
            timestamp: go_time_string(s.timestamp_secs),
            gauges: s.gauges.iter().map(gauge).collect(),
            points: [],
            counters: s.counters.iter().map(sampled).collect(),
            samples: s.samples.iter().map(sampled).collect(),
        }
    }
}

/// Go's `time.Time.String()` of a UTC time in whole seconds: `2017-03-06 22:07:51 +0000 UTC`.
fn go_time_string(unix_secs: u64) -> String {
    let rfc = crate::go::rfc3339(unix_secs);
    format!("{} +0000 UTC", rfc.trim_end_matches('Z').replacen('T', " ", 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_patterns() {
        assert_eq!(route_pattern("/v1/var/a/b/c"), "/v1/var/:path");
        assert_eq!(route_pattern("/v1/operator/raft/configurationx"), "/v1/operator/raft/configuration");
        assert_eq!(route_pattern("/v1/operator/raft/peer"), "/v1/operator/raft/peer");
        assert_eq!(route_pattern("/v1/status/leader"), "/v1/status/leader");
        assert_eq!(route_pattern("/v1/anything/else/123"), "unmatched");
    }

    #[test]
    fn summary_wire_shape() {
        let s = Summary {
            timestamp_secs: 1_488_838_070,
            gauges: vec![Gauge { name: "g".into(), value: 1.0, labels: vec![("host".into(), "h".into())] }],
            counters: vec![],
            samples: vec![],
        };
        let text = String::from_utf8(respond::encode(&MetricsSummary::from(&s), false)).unwrap();
        assert_eq!(
            text,
            r#"{"Timestamp":"2017-03-06 22:07:50 +0000 UTC","Gauges":[{"Name":"g","Value":1.0,"Labels":{"host":"h"}}],"Points":[],"Counters":[],"Samples":[]}"#
        );
    }
}
