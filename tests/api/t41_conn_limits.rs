//! Nomad's `limits { }` on the listeners (`src/http/listen.rs`): connections per client
//! address on the HTTP and RPC ports, handshake timeouts, and the texts an invalid limit stops
//! the agent with; then the TLS listener itself, in this process.
//!
//! Addresses: each agent is on its test's subnet of the api block, 127.20.<subnet>.1; the
//! clients connect from .50 ("the client") and .51 ("another client") of the same subnet,
//! bound before connecting, so no other test's (or the harness's own) connections count
//! against them.

use std::io::Read;
use std::io::Write;
use std::net::SocketAddr;
use std::net::TcpStream;
use std::process::Command;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use actix_web::web;
use actix_web::App;
use actix_web::HttpRequest;
use raftwarden::http::listen;
use raftwarden::http::listen::ConnLimits;
use raftwarden::http::listen::Listen;
use raftwarden::http::listen::PeerCertificates;
use raftwarden::http::listen::TOO_MANY_CONNECTIONS;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::PrivatePkcs8KeyDer;
use rustls::pki_types::ServerName;
use sha2::Digest;

use crate::net;
use crate::support::*;

/// Every read in these tests gives up after this; an answer on loopback takes milliseconds.
const READ_BOUND: Duration = Duration::from_secs(15);

/// A TCP connection to `to` from the address `from`.
fn connect_from(from: &str, to: &str) -> TcpStream {
    let from: SocketAddr = format!("{from}:0").parse().unwrap();
    let to: SocketAddr = to.parse().unwrap();
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&from.into()).unwrap();
    socket.connect_timeout(&to.into(), Duration::from_secs(5)).unwrap();
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(READ_BOUND)).unwrap();
    stream
}

/// Reads one HTTP/1.1 response (head and a `Content-Length` body); its status.
fn read_response(r: &mut impl Read) -> std::io::Result<u16> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if r.read(&mut byte)? == 0 || head.len() > 64 << 10 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let status = head.get(9..12).and_then(|s| s.parse().ok()).ok_or(std::io::ErrorKind::InvalidData)?;
    let len = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    Ok(status)
}

/// Sends one request on a kept-alive connection and reads its answer; `None` if the
/// connection gives none.
fn ask(stream: &mut (impl Read + Write), request: &str) -> Option<u16> {
    stream.write_all(request.as_bytes()).ok()?;
    read_response(stream).ok()
}

const API_REQUEST: &str = "GET /v1/status/leader HTTP/1.1\r\nHost: raftwarden\r\n\r\n";
/// An internal path no server has: any answer shows the connection is served.
const RPC_REQUEST: &str = "POST /v1/internal/no-such-call HTTP/1.1\r\nHost: raftwarden\r\nContent-Length: 0\r\n\r\n";

/// Everything the server sends until it closes (a reset counts as the end).
fn read_until_closed(stream: &mut impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                panic!("the server kept the connection open for {READ_BOUND:?}")
            }
            Err(_) => return out,
        }
    }
}

/// What a connection past the limit got.
enum Knock {
    /// The server closed it, after sending these bytes.
    Closed(Vec<u8>),
    /// It is still open: the server took it in.
    Open,
}

/// Connects from `from` and waits (a bounded time) to be closed.
fn knock(from: &str, to: &str) -> Knock {
    let mut s = connect_from(from, to);
    // A refusal comes at once; a connection taken in hears nothing until its request timeout.
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Knock::Closed(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return Knock::Open
            }
            Err(_) => return Knock::Closed(out),
        }
    }
}

/// `limit` connections from `from`, each served once.
fn hold(from: &str, to: &str, request: &str, limit: usize) -> Vec<TcpStream> {
    (0..limit)
        .map(|i| {
            let mut s = connect_from(from, to);
            assert!(ask(&mut s, request).is_some(), "connection {} of {limit} was not served", i + 1);
            s
        })
        .collect()
}

/// The limit on one port, as Nomad's: `limit` connections from one address are served and
/// held, the next from that address hears `refused` (then the close), a connection from another
/// address is served meanwhile, and once one of the held ones closes a new one gets in.
fn check_limit(to: &str, request: &str, limit: usize, refused: &[u8], net: &Net) {
    let (client, other) = (net.ip(50), net.ip(51));
    // A held connection idle for actix's keep-alive (5 s) is closed by the server, which then
    // rightly takes one more: on a slow machine that can happen while the rest are opened, so
    // a round whose held connections did not all survive the knock is tried again.
    let mut rounds = 0;
    let mut held = loop {
        rounds += 1;
        assert!(rounds <= 5, "never held {limit} connections through a knock");
        let mut held = hold(&client, to, request, limit);
        let heard = knock(&client, to);
        if !held.iter_mut().all(|s| ask(s, request).is_some()) {
            continue;
        }
        match heard {
            Knock::Closed(bytes) => {
                assert_eq!(
                    String::from_utf8_lossy(&bytes),
                    String::from_utf8_lossy(refused),
                    "connection {}",
                    limit + 1
                );
                break held;
            }
            Knock::Open => panic!("connection {} was taken in while {limit} were held", limit + 1),
        }
    };

    let mut elsewhere = connect_from(&other, to);
    assert!(ask(&mut elsewhere, request).is_some(), "a client at another address was not served");
    for s in &mut held {
        assert!(ask(s, request).is_some(), "a held connection was dropped");
    }

    drop(held.pop());
    wait_until(
        Duration::from_secs(10),
        || ask(&mut connect_from(&client, to), request).is_some(),
        || "closing a held connection did not let a new one in".to_string(),
    );
}

/// `http_max_conns_per_client = 5`: the sixth connection from one address hears Nomad's raw
/// 429 and is closed; other addresses are served; closing one of the five lets one more in.
#[test]
fn http_clients_past_their_limit_hear_429_and_others_are_served() {
    let net = net();
    let dir = tempfile::tempdir().unwrap();
    let agent = single_with(&net, &dir, "http-limit", "limits {\n  http_max_conns_per_client = 5\n}\n");
    check_limit(&format!("{}:4646", agent.spec.ip), API_REQUEST, 5, TOO_MANY_CONNECTIONS, &net);
}

/// `rpc_max_conns_per_client = 26` (Nomad's smallest): the 27th connection from one address is
/// closed without a byte, as Nomad's RPC listener does.
#[test]
fn rpc_clients_past_their_limit_are_closed_without_an_answer() {
    let net = net();
    let dir = tempfile::tempdir().unwrap();
    let agent = single_with(&net, &dir, "rpc-limit", "limits {\n  rpc_max_conns_per_client = 26\n}\n");
    check_limit(&agent.rpc_addr(), RPC_REQUEST, 26, b"", &net);
}

/// A connection that sends nothing is closed once the handshake timeout passes (with actix's
/// 408 at most), on both ports; one that asks at once is served.
#[test]
fn silent_connections_end_after_the_handshake_timeout() {
    let net = net();
    let dir = tempfile::tempdir().unwrap();
    let hcl = "limits {\n  https_handshake_timeout = \"1s\"\n  rpc_handshake_timeout = \"1s\"\n}\n";
    let agent = single_with(&net, &dir, "timeouts", hcl);
    for (port_addr, request) in [(format!("{}:4646", agent.spec.ip), API_REQUEST), (agent.rpc_addr(), RPC_REQUEST)] {
        let mut silent = connect_from(&net.ip(50), &port_addr);
        let t0 = Instant::now();
        let mut prompt = connect_from(&net.ip(50), &port_addr);
        assert!(ask(&mut prompt, request).is_some(), "{port_addr}: a prompt request was not served");
        let heard = read_until_closed(&mut silent);
        let took = t0.elapsed();
        assert!(heard.is_empty() || heard.starts_with(b"HTTP/1.1 408 "), "{port_addr}: {heard:?}");
        assert!(took >= Duration::from_millis(800), "{port_addr}: closed after {took:?}, before the timeout");
        assert!(took < Duration::from_secs(8), "{port_addr}: still open after {took:?}");
    }
}

/// The agent with `extra_hcl`: its exit code, stdout and stderr; it must exit on its own.
fn agent_exit(net: &Net, dir: &tempfile::TempDir, extra_hcl: &str) -> (Option<i32>, String, String) {
    let path = dir.path().join("agent.hcl");
    let hcl = format!(
        "data_dir = \"{}\"\nbind_addr = \"{}\"\nserver {{\n  enabled = true\n}}\n{extra_hcl}",
        dir.path().join("data").display(),
        net.ip(1)
    );
    std::fs::write(&path, hcl).unwrap();
    let mut child = Command::new(BIN)
        .args(["agent", &format!("-config={}", path.display())])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_child(&mut child, Duration::from_secs(30));
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let (mut out, mut err) = (String::new(), String::new());
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    (status.and_then(|s| s.code()), out, err)
}

/// Invalid limits stop the agent with Nomad's texts, on stderr, exit code 1: the RPC ones
/// where Nomad sets up the server, the HTTP ones where it starts the HTTP server.
#[test]
fn invalid_limits_stop_the_agent_with_nomads_texts() {
    let net = net();
    let cases = [
        (
            "limits {\n  rpc_max_conns_per_client = 20\n}\n",
            "==> Error starting agent: server config setup failed: rpc_max_conns_per_client must be > 25; found: 20\n",
        ),
        (
            "limits {\n  rpc_handshake_timeout = \"-1s\"\n}\n",
            "==> Error starting agent: server config setup failed: rpc_handshake_timeout must be >= 0\n",
        ),
        (
            "limits {\n  http_max_conns_per_client = -1\n}\n",
            "==> Error starting http server: http_max_conns_per_client must be >= 0\n",
        ),
        (
            "limits {\n  https_handshake_timeout = \"-1s\"\n}\n",
            "==> Error starting http server: https_handshake_timeout must be >= 0\n",
        ),
    ];
    for (hcl, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let (code, out, err) = agent_exit(&net, &dir, hcl);
        assert_eq!(code, Some(1), "{hcl}: {out}{err}");
        assert_eq!(err, want, "{hcl}");
        assert!(!out.contains("agent started"), "{hcl}: {out}");
    }
}

// ---- the TLS listener, in this process ----

/// A CA, and leaves it signs for `names` (DNS names or IP addresses), DER.
struct Pki {
    ca: CertificateDer<'static>,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl Pki {
    fn new() -> Self {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::DigitalSignature];
        let key = rcgen::KeyPair::generate().unwrap();
        let ca = params.self_signed(&key).unwrap().der().clone();
        Self { ca, issuer: rcgen::Issuer::new(params, key) }
    }

    fn leaf(&self, name: &str) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap().der().clone();
        (cert, PrivatePkcs8KeyDer::from(key.serialize_der()).into())
    }

    fn roots(&self) -> Arc<rustls::RootCertStore> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca.clone()).unwrap();
        Arc::new(roots)
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    raftwarden_actors::crypto::provider()
}

/// A server config that asks for a client certificate signed by the CA, and also serves
/// clients without one.
fn server_config(pki: &Pki, ip: &str) -> Arc<rustls::ServerConfig> {
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(pki.roots(), provider())
        .allow_unauthenticated()
        .build()
        .unwrap();
    let (cert, key) = pki.leaf(ip);
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![cert], key)
        .unwrap();
    Arc::new(config)
}

/// A TLS connection from `from` to `to`, presenting `identity` when given.
fn tls_connect(
    pki: &Pki,
    from: &str,
    to: &str,
    identity: Option<(CertificateDer<'static>, PrivateKeyDer<'static>)>,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(pki.roots());
    let config = match identity {
        Some((cert, key)) => builder.with_client_auth_cert(vec![cert], key).unwrap(),
        None => builder.with_no_client_auth(),
    };
    let ip: std::net::IpAddr = to.parse::<SocketAddr>().unwrap().ip();
    let conn = rustls::ClientConnection::new(Arc::new(config), ServerName::IpAddress(ip.into())).unwrap();
    rustls::StreamOwned::new(conn, connect_from(from, to))
}

/// The SHA-256 of the client's certificate as the handler sees it, or `none`.
async fn peer(req: HttpRequest) -> String {
    match req.conn_data::<PeerCertificates>().and_then(PeerCertificates::end_entity) {
        Some(cert) => format!("{:x}", sha2::Sha256::digest(cert.as_ref())),
        None => "none".to_string(),
    }
}

/// A listener on `ip` (port 0) serving `/peer`, run on a thread of its own; its address and the
/// handle that stops it.
fn start_listener(ip: &str, build: impl FnOnce(Listen) -> Listen + Send + 'static) -> (String, listen::RunningHandle) {
    let listener = std::net::TcpListener::bind(format!("{ip}:0")).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let listen = build(Listen::new("HTTP", listener, 1));
            let server = listen::serve(listen, || App::new().route("/peer", web::get().to(peer))).unwrap();
            tx.send(server.handle()).unwrap();
            let _ = server.await;
        })
    });
    (addr, rx.recv_timeout(Duration::from_secs(10)).unwrap())
}

fn body_of(stream: &mut impl Read) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "closed before the answer");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let len: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
        .unwrap()
        .parse()
        .unwrap();
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).unwrap();
    String::from_utf8(body).unwrap()
}

const PEER_REQUEST: &str = "GET /peer HTTP/1.1\r\nHost: raftwarden\r\n\r\n";

/// Over TLS: handlers see the certificate a client presented (and nothing when it presented
/// none); a client that never starts its handshake is dropped after the handshake timeout;
/// the limit counts TLS connections too, and refuses the next one whatever it hears.
#[test]
fn tls_listener_shows_peer_certificates_and_bounds_handshakes() {
    raftwarden_actors::crypto::install_default_provider();
    let net = net();
    let pki = Pki::new();
    let config = server_config(&pki, &net.ip(1));
    let limits = ConnLimits { max_per_client: 2, handshake_timeout: Duration::from_secs(1) };
    let (addr, handle) = start_listener(&net.ip(1), move |l| l.limits(limits).tls(Some(config)));

    let (cert, key) = pki.leaf("client.global.nomad");
    let want = format!("{:x}", sha2::Sha256::digest(cert.as_ref()));
    let mut with_cert = tls_connect(&pki, &net.ip(50), &addr, Some((cert, key)));
    with_cert.write_all(PEER_REQUEST.as_bytes()).unwrap();
    assert_eq!(body_of(&mut with_cert), want);
    let mut without = tls_connect(&pki, &net.ip(50), &addr, None);
    without.write_all(PEER_REQUEST.as_bytes()).unwrap();
    assert_eq!(body_of(&mut without), "none");

    // Two TLS connections held from .50: a third is refused; .51 is served.
    let mut third = tls_connect(&pki, &net.ip(50), &addr, None);
    let refused = match third.write_all(PEER_REQUEST.as_bytes()) {
        Err(_) => Vec::new(),
        Ok(()) => read_until_closed(&mut third),
    };
    assert!(refused.is_empty() || refused == TOO_MANY_CONNECTIONS, "{}", String::from_utf8_lossy(&refused));
    let mut elsewhere = tls_connect(&pki, &net.ip(51), &addr, None);
    elsewhere.write_all(PEER_REQUEST.as_bytes()).unwrap();
    assert_eq!(body_of(&mut elsewhere), "none");

    // A TCP connection that never sends its ClientHello.
    let mut silent = connect_from(&net.ip(52), &addr);
    let t0 = Instant::now();
    assert!(read_until_closed(&mut silent).is_empty());
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(800) && took < Duration::from_secs(8), "closed after {took:?}");

    actix_rt::System::new().block_on(handle.stop(false));
}

/// `rpc_upgrade_mode`: one port serves TLS and plain connections alike.
#[test]
fn upgrade_mode_serves_tls_and_plain_on_one_port() {
    raftwarden_actors::crypto::install_default_provider();
    let net = net();
    let pki = Pki::new();
    let config = server_config(&pki, &net.ip(1));
    let (addr, handle) = start_listener(&net.ip(1), move |l| l.tls(Some(config)).plain_too(true));

    let (cert, key) = pki.leaf("server.global.nomad");
    let want = format!("{:x}", sha2::Sha256::digest(cert.as_ref()));
    let mut tls = tls_connect(&pki, &net.ip(50), &addr, Some((cert, key)));
    tls.write_all(PEER_REQUEST.as_bytes()).unwrap();
    assert_eq!(body_of(&mut tls), want);
    let mut plain = connect_from(&net.ip(50), &addr);
    plain.write_all(PEER_REQUEST.as_bytes()).unwrap();
    assert_eq!(body_of(&mut plain), "none");

    actix_rt::System::new().block_on(handle.stop(false));
}
