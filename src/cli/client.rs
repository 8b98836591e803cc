//! The CLI's HTTP client: Nomad's address/token/region conventions and the texts of Nomad's Go
//! `api` package, which treats every status but 200 as an error. `http://` and `https://`
//! addresses; TLS as [`super::client_tls`] sets it up from the flags and `NOMAD_*` variables.

use std::time::Duration;

use reqwest::Method;
use reqwest::Url;
use serde_json::Value;

use super::client_tls;
use super::client_tls::TlsSettings;
use super::opts::GlobalOpts;
use crate::go::quote as go_quote;

pub const DEFAULT_ADDRESS: &str = "http://127.0.0.1:4646";

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid address {}: {reason}", go_quote(.address))]
    Address { address: String, reason: String },
    #[error("{0}")]
    Build(String),
    /// Go's `url.Error` shape: `Get "http://...": <cause>`.
    #[error("{method} {}: {cause}", go_quote(.url))]
    Transport { method: &'static str, url: String, cause: String },
    #[error("Unexpected response code: {status} ({body})")]
    Status { status: u16, body: String },
    #[error("Got 0 byte response with non-nil decode object")]
    EmptyBody,
    #[error("error decoding response body: {0}")]
    Decode(#[source] serde_json::Error),
}

/// One server's API, with the caller's token and region.
pub struct Client {
    base: Url,
    token: Option<String>,
    region: Option<String>,
    http: reqwest::Client,
}

impl Client {
    /// `-address`/`NOMAD_ADDR`, `-token`/`NOMAD_TOKEN`, `-region`/`NOMAD_REGION` (clap has
    /// already merged flags over the environment); empty values count as unset. TLS from the
    /// flags and the `NOMAD_CACERT`, ... variables.
    pub fn new(opts: &GlobalOpts) -> Result<Self, ClientError> {
        Self::with_tls(opts, &TlsSettings::resolve(opts, |k| std::env::var(k).ok()))
    }

    /// Like [`Client::new`], with TLS settings decided by the caller (the agent's own).
    pub fn with_tls(opts: &GlobalOpts, tls: &TlsSettings) -> Result<Self, ClientError> {
        let non_empty = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(String::from);
        let address = non_empty(&opts.address).unwrap_or_else(|| DEFAULT_ADDRESS.to_string());
        let base = parse_address(&address)?;
        // Built for http:// too: Nomad reads the TLS files whatever the scheme, so a wrong
        // path fails every command alike.
        let tls = tls.client_config().map_err(ClientError::Build)?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .tls_backend_preconfigured(tls)
            .build()
            .map_err(|e| ClientError::Build(error_chain(&e)))?;
        Ok(Self { base, token: non_empty(&opts.token), region: non_empty(&opts.region), http })
    }

    /// `GET` a JSON document.
    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, ClientError> {
        decode(&self.send(Method::GET, path, query, None).await?)
    }

    /// `PUT` a JSON document (or nothing), returning the decoded response body.
    pub async fn put(&self, path: &str, query: &[(&str, &str)], body: Option<&Value>) -> Result<Value, ClientError> {
        decode(&self.send(Method::PUT, path, query, body).await?)
    }

    /// `PUT` of a JSON document whose answer has no body to decode (Nomad's client passes a
    /// nil `out`, as for a policy upsert, which answers 200 with an empty body).
    pub async fn put_unanswered(&self, path: &str, query: &[(&str, &str)], body: &Value) -> Result<(), ClientError> {
        self.send(Method::PUT, path, query, Some(body)).await.map(drop)
    }

    /// `PUT` or `DELETE` whose response body is not used.
    pub async fn write(&self, method: Method, path: &str, query: &[(&str, &str)]) -> Result<(), ClientError> {
        self.send(method, path, query, None).await.map(drop)
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Vec<u8>, ClientError> {
        let (status, bytes) = self.raw(method, path, query, body).await?;
        if status != 200 {
            let body = String::from_utf8_lossy(&bytes).trim().to_string();
            return Err(ClientError::Status { status, body });
        }
        Ok(bytes)
    }

    /// Any request, answered with its status and body whatever the status (for endpoints such
    /// as variables whose 404 and 409 carry meaning).
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<(u16, Vec<u8>), ClientError> {
        self.raw_with_headers(method, path, query, body).await.map(|(status, bytes, _)| (status, bytes))
    }

    /// [`Client::raw`] with the answer's headers (a listing's `X-Nomad-*` query metadata).
    pub async fn raw_with_headers(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<(u16, Vec<u8>, Vec<(String, String)>), ClientError> {
        let url = self.url(path, query);
        let body = match body {
            Some(v) => Some(serde_json::to_vec(v).map_err(|e| ClientError::Transport {
                method: go_method(&method),
                url: url.to_string(),
                cause: e.to_string(),
            })?),
            None => None,
        };
        let resp = self.request(&method, &url, body.map(reqwest::Body::from), true).await?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let bytes = resp.bytes().await.map_err(|e| transport(&method, &url, &e))?;
        Ok((status, bytes.to_vec(), headers))
    }

    /// A request whose body and answer stream (snapshots): the response, unread, when the
    /// status is 200; otherwise the status and its text, as Nomad's `requireOK`.
    pub async fn stream(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<reqwest::Body>,
    ) -> Result<reqwest::Response, ClientError> {
        let url = self.url(path, query);
        let resp = self.request(&method, &url, body, false).await?;
        let status = resp.status().as_u16();
        if status != 200 {
            let bytes = resp.bytes().await.map_err(|e| transport(&method, &url, &e))?;
            let body = String::from_utf8_lossy(&bytes).trim().to_string();
            return Err(ClientError::Status { status, body });
        }
        Ok(resp)
    }

    /// Sends one request with the caller's token; the response, whatever its status. A `json`
    /// body is sent as `application/json`.
    async fn request(
        &self,
        method: &Method,
        url: &Url,
        body: Option<reqwest::Body>,
        json: bool,
    ) -> Result<reqwest::Response, ClientError> {
        let mut req = self.http.request(method.clone(), url.clone());
        if let Some(token) = &self.token {
            req = req.header("X-Nomad-Token", token);
        }
        if let Some(body) = body {
            if json {
                req = req.header(reqwest::header::CONTENT_TYPE, "application/json");
            }
            req = req.body(body);
        }
        req.send().await.map_err(|e| transport(method, url, &e))
    }

    /// The Go-style text of a failure while reading or writing a streamed body.
    pub fn transport_error(&self, method: &Method, path: &str, e: &reqwest::Error) -> ClientError {
        transport(method, &self.url(path, &[]), e)
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        url.set_path(path);
        url.set_query(None);
        let region = self.region.as_deref().map(|r| ("region", r));
        let pairs: Vec<(&str, &str)> = query.iter().copied().chain(region).collect();
        if !pairs.is_empty() {
            url.query_pairs_mut().extend_pairs(pairs);
        }
        url
    }
}

/// The base URL: `http://` or `https://` and a host.
fn parse_address(address: &str) -> Result<Url, ClientError> {
    let invalid = |reason: &str| ClientError::Address { address: address.to_string(), reason: reason.to_string() };
    let url = Url::parse(address).map_err(|e| invalid(&e.to_string()))?;
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(url),
        "http" | "https" => Err(invalid("no host")),
        _ => Err(invalid("the address must start with http:// or https://")),
    }
}

fn decode(bytes: &[u8]) -> Result<Value, ClientError> {
    if bytes.is_empty() {
        return Err(ClientError::EmptyBody);
    }
    serde_json::from_slice(bytes).map_err(ClientError::Decode)
}

/// Go's `url.Error` spells the method `Get`, `Put`, `Delete`.
/// A failure to send or read, in Go's words (`Put "http://...": dial tcp ...`).
fn transport(method: &Method, url: &Url, e: &reqwest::Error) -> ClientError {
    ClientError::Transport { method: go_method(method), url: url.to_string(), cause: error_chain(e) }
}

fn go_method(m: &Method) -> &'static str {
    match *m {
        Method::GET => "Get",
        Method::PUT => "Put",
        Method::DELETE => "Delete",
        Method::POST => "Post",
        _ => "Request",
    }
}

/// The causes under a reqwest error (its own text repeats the URL, which the caller already
/// shows), e.g. `client error (Connect): tcp connect error: Connection refused (os error 111)`;
/// a TLS failure in Go's words alone (`tls: failed to verify certificate: x509: ...`).
fn error_chain(e: &reqwest::Error) -> String {
    if let Some(tls) = client_tls::find_tls_error(e) {
        return client_tls::go_tls_error(tls);
    }
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    if causes.is_empty() {
        e.to_string()
    } else {
        causes.join(": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(address: Option<&str>, region: Option<&str>) -> Result<Client, ClientError> {
        Client::new(&GlobalOpts {
            address: address.map(String::from),
            region: region.map(String::from),
            ..GlobalOpts::default()
        })
    }

    #[test]
    fn urls_carry_query_and_region() {
        let c = client(None, None).unwrap();
        assert_eq!(
            c.url("/v1/operator/raft/configuration", &[]).as_str(),
            "http://127.0.0.1:4646/v1/operator/raft/configuration"
        );
        assert_eq!(
            c.url("/v1/operator/raft/configuration", &[("stale", "")]).as_str(),
            "http://127.0.0.1:4646/v1/operator/raft/configuration?stale="
        );
        let c = client(Some("http://10.0.0.1:4646/"), Some("eu west")).unwrap();
        assert_eq!(
            c.url("/v1/operator/raft/peer", &[("id", "a&b=c d")]).as_str(),
            "http://10.0.0.1:4646/v1/operator/raft/peer?id=a%26b%3Dc+d&region=eu+west"
        );
        // Empty values (an empty NOMAD_ADDR, say) fall back to the defaults.
        let c = client(Some(""), Some("")).unwrap();
        assert_eq!(c.url("/x", &[]).as_str(), "http://127.0.0.1:4646/x");
    }

    #[test]
    fn addresses_are_http_or_https() {
        for bad in ["ftp://x:4646", "127.0.0.1:4646", "not a url", "http://", "https://"] {
            assert!(matches!(client(Some(bad), None), Err(ClientError::Address { .. })), "{bad}");
        }
        let c = client(Some("https://10.0.0.1:4646"), None).unwrap();
        assert_eq!(c.url("/v1/x", &[]).as_str(), "https://10.0.0.1:4646/v1/x");
    }

    #[test]
    fn error_texts() {
        let e = ClientError::Status { status: 500, body: "No path to region".into() };
        assert_eq!(e.to_string(), "Unexpected response code: 500 (No path to region)");
        let e = ClientError::Transport { method: "Get", url: "http://h/v1".into(), cause: "refused".into() };
        assert_eq!(e.to_string(), "Get \"http://h/v1\": refused");
        assert!(matches!(decode(b""), Err(ClientError::EmptyBody)));
        assert_eq!(decode(b"true").unwrap(), Value::Bool(true));
    }
}
