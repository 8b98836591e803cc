//! The HTTP client of the CLI: Nomad's address/token/region conventions and the Go api
//! package's error texts.

use std::time::Duration;

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("Unexpected response code: {status} ({body})")]
    Status { status: u16, body: String },
    #[error("{0}")]
    Transport(String),
    #[error("invalid JSON in response: {0}")]
    Decode(String),
}

/// Connection settings: `-address`/`NOMAD_ADDR`, `-token`/`NOMAD_TOKEN`, `-region`/`NOMAD_REGION`.
pub struct Client {
    address: String,
    token: Option<String>,
    region: Option<String>,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Client {
    pub fn new(address: Option<&str>, token: Option<&str>, region: Option<&str>) -> Result<Self, ClientError> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let address =
            address.map(str::to_string).or_else(|| env("NOMAD_ADDR")).unwrap_or("http://127.0.0.1:4646".into());
        let address = address.trim_end_matches('/').to_string();
        let token = token.map(str::to_string).or_else(|| env("NOMAD_TOKEN"));
        let region = region.map(str::to_string).or_else(|| env("NOMAD_REGION"));
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        Ok(Self { address, token, region, http, runtime })
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> String {
        let mut pairs: Vec<String> = query.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
        if let Some(r) = &self.region {
            pairs.push(format!("region={}", encode(r)));
        }
        let mut url = format!("{}{}", self.address, path);
        if !pairs.is_empty() {
            url.push('?');
            url.push_str(&pairs.join("&"));
        }
        url
    }

    /// Sends a request; any status but 200 is an error, like the Go api client.
    pub fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<String>,
    ) -> Result<String, ClientError> {
        let mut req = self.http.request(method, self.url(path, query));
        if let Some(t) = &self.token {
            req = req.header("X-Nomad-Token", t);
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        self.runtime.block_on(async {
            let resp = req.send().await.map_err(|e| ClientError::Transport(transport_text(&e)))?;
            let status = resp.status().as_u16();
            let text = resp.text().await.map_err(|e| ClientError::Transport(e.to_string()))?;
            if status != 200 {
                return Err(ClientError::Status { status, body: text.trim().to_string() });
            }
            Ok(text)
        })
    }

    pub fn get_json(&self, path: &str, query: &[(&str, String)]) -> Result<Value, ClientError> {
        let text = self.send(reqwest::Method::GET, path, query, None)?;
        serde_json::from_str(&text).map_err(|e| ClientError::Decode(e.to_string()))
    }

    pub fn put_json(&self, path: &str, query: &[(&str, String)], body: &Value) -> Result<Value, ClientError> {
        let text = self.send(reqwest::Method::PUT, path, query, Some(body.to_string()))?;
        if text.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| ClientError::Decode(e.to_string()))
    }
}

fn transport_text(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
