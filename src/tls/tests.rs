//! Real rustls handshakes between the configs [`Tls`] builds and plain rustls peers, over
//! in-memory buffers, with certificates made at test time.

use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use rustls::ClientConnection;
use rustls::RootCertStore;
use rustls::ServerConfig;
use rustls::ServerConnection;

use super::*;

#[path = "../../tests/support/certs.rs"]
mod certs;

use certs::Ca;

/// A directory with a CA and server, client and CLI certificates of region `global`.
struct Fixture {
    dir: tempfile::TempDir,
    ca: Ca,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = Ca::new("test");
        ca.write(dir.path());
        for role in ["server", "client", "cli"] {
            ca.write_leaf(dir.path(), role, "global", &[]);
        }
        Self { dir, ca }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn files(&self, role: &str) -> TlsFiles {
        TlsFiles {
            ca_file: Some(self.path("nomad-agent-ca.pem")),
            cert_file: self.path(&format!("global-{role}-nomad.pem")),
            key_file: self.path(&format!("global-{role}-nomad-key.pem")),
        }
    }

    fn tls(&self, role: &str, verify_server_hostname: bool) -> Tls {
        let policy = Policy { verify_server_hostname, region: "global".into(), ..Policy::default() };
        Tls::load(self.files(role), policy).expect("load")
    }
}

fn roots(ca_pem: &str) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("CA");
    }
    roots
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    raftwarden_actors::crypto::provider()
}

/// A plain rustls client (as the CLI or curl would be) trusting `ca_pem`, presenting the
/// certificate at `cert` (with its key) when given.
fn plain_client(ca_pem: &str, cert: Option<(&Path, &Path)>) -> Arc<ClientConfig> {
    let builder =
        ClientConfig::builder_with_provider(provider()).with_safe_default_protocol_versions().expect("versions");
    let builder = builder.with_root_certificates(roots(ca_pem));
    Arc::new(match cert {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert).expect("cert").collect::<Result<Vec<_>, _>>().expect("pem");
            let key = PrivateKeyDer::from_pem_file(key).expect("key");
            builder.with_client_auth_cert(chain, key).expect("client cert")
        }
    })
}

/// A plain rustls server presenting `cert`, asking for no client certificate.
fn plain_server(cert: &Path, key: &Path) -> Arc<ServerConfig> {
    let chain = CertificateDer::pem_file_iter(cert).expect("cert").collect::<Result<Vec<_>, _>>().expect("pem");
    let key = PrivateKeyDer::from_pem_file(key).expect("key");
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server cert");
    Arc::new(config)
}

/// Runs a handshake to its end in memory; the server's connection, or the first error either
/// side raised.
fn handshake(
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
    dialled: &str,
) -> Result<ServerConnection, rustls::Error> {
    let name = ServerName::try_from(dialled.to_string()).expect("name");
    let mut c = ClientConnection::new(client, name)?;
    let mut s = ServerConnection::new(server)?;
    for _ in 0..16 {
        let mut wire = Vec::new();
        while c.wants_write() {
            c.write_tls(&mut wire).expect("client write");
        }
        s.read_tls(&mut wire.as_slice()).expect("server read");
        s.process_new_packets()?;
        let mut wire = Vec::new();
        while s.wants_write() {
            s.write_tls(&mut wire).expect("server write");
        }
        c.read_tls(&mut wire.as_slice()).expect("client read");
        c.process_new_packets()?;
        if !c.is_handshaking() && !s.is_handshaking() {
            // The server hears the client's last flight only on the next round in TLS 1.3.
            let mut wire = Vec::new();
            while c.wants_write() {
                c.write_tls(&mut wire).expect("client write");
            }
            s.read_tls(&mut wire.as_slice()).expect("server read");
            s.process_new_packets()?;
            return Ok(s);
        }
    }
    panic!("handshake did not finish in 16 rounds");
}

fn leaf_of(conn: &ServerConnection) -> Option<CertificateDer<'static>> {
    conn.peer_certificates().and_then(|c| c.first()).map(|c| c.clone().into_owned())
}

#[test]
fn https_asks_for_client_certificates_only_when_told() {
    let f = Fixture::new();
    let tls = f.tls("server", false);
    let cli = (f.path("global-cli-nomad.pem"), f.path("global-cli-nomad-key.pem"));
    let open = tls.https_server(false).expect("https");
    let s = handshake(plain_client(&f.ca.pem, None), open.clone(), "localhost").expect("no client cert needed");
    assert!(leaf_of(&s).is_none());

    let verified = tls.https_server(true).expect("https");
    assert!(handshake(plain_client(&f.ca.pem, None), verified.clone(), "localhost").is_err());
    let s = handshake(plain_client(&f.ca.pem, Some((&cli.0, &cli.1))), verified.clone(), "localhost")
        .expect("a CLI certificate of the CA");
    assert!(leaf_of(&s).is_some());

    let other = Fixture::new();
    let foreign = (other.path("global-cli-nomad.pem"), other.path("global-cli-nomad-key.pem"));
    assert!(handshake(plain_client(&f.ca.pem, Some((&foreign.0, &foreign.1))), verified, "localhost").is_err());
}

#[test]
fn rpc_port_takes_only_certificates_of_the_ca_and_knows_servers() {
    let f = Fixture::new();
    let other = Fixture::new();
    let pair = |f: &Fixture, role: &str| {
        (f.path(&format!("global-{role}-nomad.pem")), f.path(&format!("global-{role}-nomad-key.pem")))
    };
    for verify_server_hostname in [true, false] {
        let tls = f.tls("server", verify_server_hostname);
        let rpc = tls.rpc_server().expect("rpc");
        let call = |f: &Fixture, role: &str| {
            let (c, k) = pair(f, role);
            handshake(plain_client(&f.ca.pem, Some((&c, &k))), rpc.clone(), "localhost")
        };
        let vsh = verify_server_hostname;
        assert!(handshake(plain_client(&f.ca.pem, None), rpc.clone(), "localhost").is_err(), "no cert ({vsh})");
        assert!(call(&other, "server").is_err(), "another CA's server ({vsh})");
        let server = call(&f, "server").expect("a server certificate");
        assert!(tls.is_server(&leaf_of(&server).expect("cert")));
        let client = call(&f, "client").expect("a client certificate is let in");
        assert_eq!(
            tls.is_server(&leaf_of(&client).expect("cert")),
            !vsh,
            "a client certificate is a server only without verify_server_hostname"
        );
        // Nomad's rpcNameAndRegionValidator: with verify_server_hostname only servers and this
        // region's clients get in.
        assert_eq!(call(&f, "cli").is_ok(), !vsh, "a CLI certificate ({vsh})");
    }
    let tls = f.tls("server", true);
    let (c, k) = {
        let dir = f.dir.path().join("east");
        std::fs::create_dir_all(&dir).expect("dir");
        f.ca.write_leaf(&dir, "client", "east", &[])
    };
    assert!(
        handshake(plain_client(&f.ca.pem, Some((&c, &k))), tls.rpc_server().expect("rpc"), "localhost").is_err(),
        "another region's client"
    );
}

#[test]
fn rpc_client_checks_the_peer_as_nomad() {
    let f = Fixture::new();
    let other = Fixture::new();
    let peer = |f: &Fixture, role: &str| {
        plain_server(&f.path(&format!("global-{role}-nomad.pem")), &f.path(&format!("global-{role}-nomad-key.pem")))
    };
    // Servers are dialled at an IP none of the certificates names: the name checked is
    // server.<region>.nomad, or none.
    let strict = f.tls("server", true).rpc_client().expect("client");
    assert!(handshake(strict.clone(), peer(&f, "server"), "127.9.9.9").is_ok());
    assert!(handshake(strict.clone(), peer(&f, "client"), "127.9.9.9").is_err(), "a client is no server");
    assert!(handshake(strict, peer(&other, "server"), "127.9.9.9").is_err(), "another CA");
    let loose = f.tls("server", false).rpc_client().expect("client");
    assert!(handshake(loose.clone(), peer(&f, "client"), "127.9.9.9").is_ok(), "any certificate of the CA");
    assert!(handshake(loose, peer(&other, "server"), "127.9.9.9").is_err(), "another CA");
}

#[test]
fn mutual_tls_between_two_servers() {
    let f = Fixture::new();
    let a = f.tls("server", true);
    let s = handshake(a.rpc_client().expect("client"), a.rpc_server().expect("server"), "127.0.0.2").expect("mTLS");
    assert_eq!(leaf_of(&s), Some(a.certificate()));
}

#[test]
fn reload_swaps_certificates_for_new_connections_and_keeps_them_on_errors() {
    let f = Fixture::new();
    let tls = f.tls("server", true);
    let https = tls.https_server(false).expect("https");
    let before = tls.certificate();
    let seen = |https: &Arc<ServerConfig>| {
        let mut c =
            ClientConnection::new(plain_client(&f.ca.pem, None), ServerName::try_from("localhost").expect("name"))
                .expect("client");
        let mut s = ServerConnection::new(https.clone()).expect("server");
        for _ in 0..4 {
            let mut wire = Vec::new();
            while c.wants_write() {
                c.write_tls(&mut wire).expect("write");
            }
            s.read_tls(&mut wire.as_slice()).expect("read");
            s.process_new_packets().expect("server");
            let mut wire = Vec::new();
            while s.wants_write() {
                s.write_tls(&mut wire).expect("write");
            }
            c.read_tls(&mut wire.as_slice()).expect("read");
            c.process_new_packets().expect("client");
        }
        c.peer_certificates().and_then(|p| p.first()).map(|p| p.clone().into_owned()).expect("server cert")
    };
    assert_eq!(seen(&https), before);

    f.ca.write_leaf(f.dir.path(), "server", "global", &["10.1.2.3"]);
    tls.reload(None).expect("reload");
    let after = tls.certificate();
    assert_ne!(after, before);
    assert_eq!(seen(&https), after, "a config built before the reload serves the new certificate");

    std::fs::write(f.path("global-server-nomad-key.pem"), "garbage").expect("write");
    let err = tls.reload(None).unwrap_err().to_string();
    assert!(err.contains("key_file") && err.contains("global-server-nomad-key.pem"), "{err}");
    assert_eq!(tls.certificate(), after, "a failed reload keeps what was loaded");
    assert_eq!(seen(&https), after);
}

#[test]
fn errors_name_the_file() {
    let f = Fixture::new();
    let policy = || Policy { region: "global".into(), ..Policy::default() };
    let mut files = f.files("server");
    files.cert_file = f.path("missing.pem");
    let err = Tls::load(files, policy()).unwrap_err().to_string();
    assert!(err.starts_with("tls: cert_file ") && err.contains("missing.pem"), "{err}");

    std::fs::write(f.path("not-a-ca.pem"), "hello").expect("write");
    let mut files = f.files("server");
    files.ca_file = Some(f.path("not-a-ca.pem"));
    let err = Tls::load(files, policy()).unwrap_err().to_string();
    assert!(err.starts_with("tls: ca_file ") && err.contains("no CERTIFICATE block"), "{err}");

    let mut files = f.files("server");
    files.key_file = f.path("global-client-nomad-key.pem");
    let err = Tls::load(files, policy()).unwrap_err().to_string();
    assert!(err.starts_with("tls: key_file ") && err.contains("does not fit cert_file"), "{err}");

    let mut files = f.files("server");
    files.key_file = f.path("global-server-nomad.pem");
    let err = Tls::load(files, policy()).unwrap_err().to_string();
    assert!(err.contains("no PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block"), "{err}");

    let bad_suite = Policy { cipher_suites: vec!["TLS_RSA_WITH_AES_128_CBC_SHA".into()], ..policy() };
    let err = Tls::load(f.files("server"), bad_suite).unwrap_err().to_string();
    assert!(err.starts_with("tls: unsupported TLS cipher \"TLS_RSA_WITH_AES_128_CBC_SHA\""), "{err}");
    let rsa_only = Policy { cipher_suites: vec!["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".into()], ..policy() };
    let err = Tls::load(f.files("server"), rsa_only).unwrap_err().to_string();
    assert!(err.contains("don't support the certificate signature algorithm ECDSA"), "{err}");
}

#[test]
fn tls13_minimum_refuses_a_tls12_client() {
    let f = Fixture::new();
    let policy = Policy { tls13_only: true, region: "global".into(), ..Policy::default() };
    let tls = Tls::load(f.files("server"), policy).expect("load");
    let https = tls.https_server(false).expect("https");
    let tls12_only = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .expect("versions")
        .with_root_certificates(roots(&f.ca.pem))
        .with_no_client_auth();
    assert!(handshake(Arc::new(tls12_only), https.clone(), "localhost").is_err());
    assert!(handshake(plain_client(&f.ca.pem, None), https, "localhost").is_ok());
}
