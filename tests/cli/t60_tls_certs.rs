//! `raftwarden tls ca create|info` and `tls cert create|info` as processes in a scratch
//! directory: the files Nomad writes (names, modes, SEC1 keys), their certificates parsed back
//! with x509-parser (SANs, CA flag, key usages, validity, key identifiers, signatures), Nomad's
//! console lines, and the refusals (existing files, a CA key that is not the CA's). No agent.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::process::Stdio;

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::FromDer;

use crate::support::BIN;

/// Runs the binary in `cwd` with only the given `NOMAD_*` variables; (code, stdout, stderr).
pub fn run_in(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(cwd).stdin(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("NOMAD_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("run raftwarden");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a command that must succeed; its stdout and stderr.
pub fn ok_in(cwd: &Path, args: &[&str]) -> (String, String) {
    let (code, out, err) = run_in(cwd, args, &[]);
    assert_eq!(code, 0, "{args:?}: {out}{err}");
    (out, err)
}

/// The DER of the first PEM block of `file`, with its label.
fn pem(file: &Path) -> (String, Vec<u8>) {
    let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let (_, pem) = x509_parser::pem::parse_x509_pem(&bytes).expect("PEM");
    (pem.label, pem.contents)
}

struct Parsed {
    der: Vec<u8>,
}

impl Parsed {
    fn load(file: &Path) -> Self {
        let (label, der) = pem(file);
        assert_eq!(label, "CERTIFICATE");
        Self { der }
    }

    fn cert(&self) -> X509Certificate<'_> {
        X509Certificate::from_der(&self.der).expect("certificate").1
    }
}

fn dns_and_ips(c: &X509Certificate<'_>) -> (Vec<String>, Vec<String>) {
    let (mut dns, mut ips) = (Vec::new(), Vec::new());
    if let Some(san) = c.subject_alternative_name().expect("SAN") {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => dns.push(d.to_string()),
                GeneralName::IPAddress(ip) => {
                    let ip: [u8; 4] = (*ip).try_into().expect("IPv4");
                    ips.push(std::net::Ipv4Addr::from(ip).to_string());
                }
                other => panic!("unexpected SAN {other:?}"),
            }
        }
    }
    (dns, ips)
}

fn key_ids(c: &X509Certificate<'_>) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let (mut ski, mut aki) = (None, None);
    for ext in c.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => ski = Some(id.0.to_vec()),
            ParsedExtension::AuthorityKeyIdentifier(a) => aki = a.key_identifier.as_ref().map(|k| k.0.to_vec()),
            _ => {}
        }
    }
    (ski, aki)
}

fn days(c: &X509Certificate<'_>) -> i64 {
    (c.validity().not_after.timestamp() - c.validity().not_before.timestamp()) / 86_400
}

fn mode(file: &Path) -> u32 {
    std::fs::metadata(file).expect("metadata").permissions().mode() & 0o777
}

/// The ECDSA P-256 key of a Nomad key file: SEC1 `EC PRIVATE KEY` naming prime256v1.
fn assert_nomad_key(file: &Path) {
    let (label, der) = pem(file);
    assert_eq!(label, "EC PRIVATE KEY", "{}", file.display());
    let prime256v1 = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    assert!(der.windows(prime256v1.len()).any(|w| w == prime256v1), "{}", file.display());
    assert_eq!(mode(file), 0o600, "{}", file.display());
}

#[test]
fn ca_and_certificates_are_the_files_nomad_writes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let (out, err) = ok_in(d, &["tls", "ca", "create"]);
    assert_eq!(
        out,
        "==> CA certificate saved to: nomad-agent-ca.pem\n==> CA certificate key saved to: nomad-agent-ca-key.pem\n"
    );
    assert_eq!(err, "");
    assert_nomad_key(&d.join("nomad-agent-ca-key.pem"));
    let ca_file = Parsed::load(&d.join("nomad-agent-ca.pem"));
    let ca = ca_file.cert();
    assert!(ca.is_ca());
    let bc = ca.basic_constraints().unwrap().unwrap();
    assert!(bc.critical && bc.value.ca && bc.value.path_len_constraint.is_none());
    let ku = ca.key_usage().unwrap().unwrap();
    assert!(ku.critical);
    assert!(ku.value.key_cert_sign() && ku.value.crl_sign() && ku.value.digital_signature());
    assert!(!ku.value.key_encipherment());
    assert_eq!(days(&ca), 1825);
    let cn = ca.subject().iter_common_name().next().unwrap().as_str().unwrap().to_string();
    let serial = ca.serial.to_str_radix(10);
    assert_eq!(cn, format!("Nomad Agent CA {serial}"));
    assert!(ca.serial.bits() <= 128);
    assert_eq!(
        ca.subject().to_string(),
        "C=US, ST=CA, L=San Francisco, streetAddress=101 Second Street, postalCode=94105, O=HashiCorp Inc., CN="
            .to_string()
            + &cn
    );
    // Go writes each of these as a PrintableString, one attribute per relative name.
    for rdn in ca.subject().iter() {
        assert_eq!(rdn.iter().count(), 1);
        for attr in rdn.iter() {
            assert_eq!(attr.attr_value().tag(), x509_parser::der_parser::asn1_rs::Tag::PrintableString);
        }
    }
    assert_eq!(ca.issuer().as_raw(), ca.subject().as_raw());
    let (ca_ski, ca_aki) = key_ids(&ca);
    assert_eq!(ca_ski.as_ref().map(Vec::len), Some(32), "SHA-256 key identifier, as Go's keyID");
    assert_eq!(ca_aki, ca_ski);
    assert_eq!(ca.signature_algorithm.algorithm.to_id_string(), "1.2.840.10045.4.3.2", "ecdsa-with-SHA256");
    ca.verify_signature(None).expect("self-signed");
    assert!(ca.name_constraints().unwrap().is_none());

    // One certificate per role, each signed by the CA.
    let roles = [
        ("-server", "server", "Server Certificate", "Server Certificate key", vec!["127.0.0.1"]),
        ("-client", "client", "Client Certificate", "Client Certificate key", vec!["127.0.0.1"]),
        ("-cli", "cli", "Cli Certificate", "CLI Certificate key", vec![]),
    ];
    for (flag, role, saved, key_saved, ips) in roles {
        let (out, err) = ok_in(d, &["tls", "cert", "create", flag]);
        assert_eq!(
            out,
            format!(
                "==> Using CA file nomad-agent-ca.pem and CA key nomad-agent-ca-key.pem\n==> {saved} saved to global-{role}-nomad.pem\n==> {key_saved} saved to global-{role}-nomad-key.pem\n"
            )
        );
        if role == "server" {
            assert!(err.starts_with("==> WARNING: Server Certificates grants authority to become a\n"), "{err}");
            assert!(err.ends_with("Store them as securely as CA keys.\n"), "{err}");
        } else {
            assert_eq!(err, "");
        }
        assert_nomad_key(&d.join(format!("global-{role}-nomad-key.pem")));
        let file = Parsed::load(&d.join(format!("global-{role}-nomad.pem")));
        let c = file.cert();
        let name = format!("{role}.global.nomad");
        assert_eq!(c.subject().to_string(), format!("CN={name}"));
        assert_eq!(c.issuer().as_raw(), ca.subject().as_raw());
        assert!(!c.is_ca());
        let bc = c.basic_constraints().unwrap().unwrap();
        assert!(bc.critical && !bc.value.ca);
        let ku = c.key_usage().unwrap().unwrap();
        assert!(ku.value.digital_signature() && ku.value.key_encipherment() && !ku.value.key_cert_sign());
        let eku = c.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth && eku.client_auth && !eku.any);
        assert_eq!(
            dns_and_ips(&c),
            (vec![name.clone(), "localhost".into()], ips.iter().map(|s| s.to_string()).collect())
        );
        assert_eq!(days(&c), 365);
        let (ski, aki) = key_ids(&c);
        assert_eq!(ski.map(|k| k.len()), Some(32));
        assert_eq!(aki, ca_ski, "the CA's key identifier");
        c.verify_signature(Some(ca.public_key())).expect("signed by the CA");
    }

    // info: Nomad's table of the fields.
    let (out, _) = ok_in(d, &["tls", "cert", "info", "global-server-nomad.pem"]);
    let server = Parsed::load(&d.join("global-server-nomad.pem"));
    let s = server.cert();
    let rows: HashMap<&str, &str> =
        out.lines().filter_map(|l| l.split_once("  ")).map(|(k, v)| (k.trim(), v.trim())).collect();
    assert_eq!(rows["Serial Number"], s.serial.to_str_radix(10));
    assert_eq!(rows["Issuer CN"], cn);
    assert_eq!(rows["Common Name"], "CN=server.global.nomad");
    assert_eq!(rows["DNS Names"], "[server.global.nomad localhost]");
    assert_eq!(rows["IP Addresses"], "[127.0.0.1]");
    assert!(rows["Expiry Date"].ends_with(" +0000 UTC"), "{out}");
    assert_eq!(out.lines().count(), 6, "{out}");
    assert!(out.starts_with("Serial Number  "), "{out}");
    let (out, _) = ok_in(d, &["tls", "ca", "info", "nomad-agent-ca.pem"]);
    assert!(out.contains(&format!("Common Name            CN={cn},O=HashiCorp Inc.,POSTALCODE=94105,STREET=101 Second Street,L=San Francisco,ST=CA,C=US\n")), "{out}");
    assert!(out.ends_with("Permitted DNS Domains  []\n"), "{out}");
}

#[test]
fn existing_files_are_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok_in(d, &["tls", "ca", "create"]);
    ok_in(d, &["tls", "cert", "create", "-server"]);
    let before: Vec<Vec<u8>> = ["nomad-agent-ca.pem", "nomad-agent-ca-key.pem", "global-server-nomad.pem"]
        .iter()
        .map(|f| std::fs::read(d.join(f)).unwrap())
        .collect();

    assert_eq!(
        run_in(d, &["tls", "ca", "create"], &[]),
        (1, String::new(), "CA certificate file 'nomad-agent-ca.pem' already exists\n".into())
    );
    assert_eq!(
        run_in(d, &["tls", "cert", "create", "-server"], &[]),
        (1, String::new(), "Certificate file 'global-server-nomad.pem' already exists\n".into())
    );
    std::fs::remove_file(d.join("global-server-nomad.pem")).unwrap();
    assert_eq!(
        run_in(d, &["tls", "cert", "create", "-server"], &[]),
        (1, String::new(), "Key file 'global-server-nomad-key.pem' already exists\n".into())
    );
    let key_only = tempfile::tempdir().unwrap();
    std::fs::write(key_only.path().join("nomad-agent-ca-key.pem"), "x").unwrap();
    assert_eq!(
        run_in(key_only.path(), &["tls", "ca", "create"], &[]),
        (1, String::new(), "CA key file 'nomad-agent-ca-key.pem' already exists\n".into())
    );
    let after: Vec<Vec<u8>> =
        ["nomad-agent-ca.pem", "nomad-agent-ca-key.pem"].iter().map(|f| std::fs::read(d.join(f)).unwrap()).collect();
    assert_eq!(after, before[..2]);
}

#[test]
fn certificates_need_their_ca_and_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(
        run_in(d, &["tls", "cert", "create", "-client"], &[]),
        (1, String::new(), "Error reading CA: open nomad-agent-ca.pem: no such file or directory\n".into())
    );
    ok_in(d, &["tls", "ca", "create"]);
    // A second CA's key does not sign for the first CA: nothing is written.
    let other = tempfile::tempdir().unwrap();
    ok_in(other.path(), &["tls", "ca", "create"]);
    let key = other.path().join("nomad-agent-ca-key.pem");
    let (code, out, err) = run_in(d, &["tls", "cert", "create", "-cli", "-key", key.to_str().unwrap()], &[]);
    assert_eq!(code, 1);
    assert_eq!(out, format!("==> Using CA file nomad-agent-ca.pem and CA key {}\n", key.display()));
    assert_eq!(err, "x509: provided PrivateKey doesn't match parent's PublicKey\n");
    assert!(!d.join("global-cli-nomad.pem").exists() && !d.join("global-cli-nomad-key.pem").exists());
    assert_eq!(
        run_in(d, &["tls", "cert", "create", "-cli", "-key", "nomad-agent-ca.pem"], &[]).2,
        "unknown PEM block type for signing key: CERTIFICATE\n"
    );
    assert_eq!(
        run_in(d, &["tls", "cert", "create"], &[]),
        (1, String::new(), "Please provide either -server, -client, or -cli\n".into())
    );
    assert_eq!(run_in(d, &["tls", "cert", "info"], &[]), (1, String::new(), "no PEM-encoded data found\n".into()));
    assert_eq!(run_in(d, &["tls", "ca", "info"], &[]), (1, String::new(), "Error reading CA file: <nil>\n".into()));
    assert_eq!(
        run_in(d, &["tls", "ca", "info", "missing.pem"], &[]).2,
        "Error reading CA file: open missing.pem: no such file or directory\n"
    );
}

#[test]
fn regions_domains_and_extra_names() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok_in(d, &["tls", "ca", "create"]);

    // -region (or NOMAD_REGION) names the region; -cluster-region wins over both.
    ok_in(
        d,
        &[
            "tls",
            "cert",
            "create",
            "-server",
            "-region",
            "eu",
            "-additional-dnsname=nomad.example.com",
            "-additional-ipaddress",
            "10.1.2.3",
        ],
    );
    let eu = Parsed::load(&d.join("eu-server-nomad.pem"));
    assert_eq!(
        dns_and_ips(&eu.cert()),
        (
            vec![
                "nomad.example.com".into(),
                "server.eu.nomad".into(),
                "server.global.nomad".into(),
                "localhost".into()
            ],
            vec!["10.1.2.3".into(), "127.0.0.1".into()]
        )
    );
    assert_eq!(eu.cert().subject().to_string(), "CN=server.eu.nomad");
    let (code, _, err) = run_in(d, &["tls", "cert", "create", "-client"], &[("NOMAD_REGION", "ap")]);
    assert_eq!(code, 0, "{err}");
    assert!(d.join("ap-client-nomad.pem").exists() && d.join("ap-client-nomad-key.pem").exists());
    let (code, _, err) =
        run_in(d, &["tls", "cert", "create", "-cli", "-cluster-region=us", "-days=30"], &[("NOMAD_REGION", "ap")]);
    assert_eq!(code, 0, "{err}");
    let us = Parsed::load(&d.join("us-cli-nomad.pem"));
    assert_eq!(days(&us.cert()), 30);
    assert_eq!(dns_and_ips(&us.cert()).0, ["cli.us.nomad", "cli.global.nomad", "localhost"]);

    // A name-constrained CA for a custom domain.
    let (out, _) = ok_in(
        d,
        &[
            "tls",
            "ca",
            "create",
            "-name-constraint",
            "-domain",
            "example.com",
            "-additional-domain",
            "corp.internal",
            "-common-name",
            "Example CA",
            "-days",
            "10",
        ],
    );
    assert_eq!(
        out,
        "==> CA certificate saved to: example.com-agent-ca.pem\n==> CA certificate key saved to: example.com-agent-ca-key.pem\n"
    );
    let ca = Parsed::load(&d.join("example.com-agent-ca.pem"));
    let c = ca.cert();
    assert_eq!(c.subject().iter_common_name().next().unwrap().as_str().unwrap(), "Example CA");
    assert_eq!(days(&c), 10);
    let nc = c.name_constraints().unwrap().unwrap();
    assert!(nc.critical);
    let permitted: Vec<String> = nc
        .value
        .permitted_subtrees
        .as_ref()
        .unwrap()
        .iter()
        .map(|s| match s.base {
            GeneralName::DNSName(n) => n.to_string(),
            ref other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(permitted, ["example.com", "localhost", "nomad", "corp.internal"]);
    let (out, _) = ok_in(d, &["tls", "ca", "info", "example.com-agent-ca.pem"]);
    assert!(out.ends_with("Permitted DNS Domains  [example.com localhost nomad corp.internal]\n"), "{out}");

    let (out, _) = ok_in(d, &["tls", "cert", "create", "-server", "-domain", "example.com"]);
    assert!(out.starts_with("==> Using CA file example.com-agent-ca.pem and CA key example.com-agent-ca-key.pem\n"));
    let s = Parsed::load(&d.join("global-server-example.com.pem"));
    assert_eq!(s.cert().subject().to_string(), "CN=server.global.example.com");
    assert_eq!(dns_and_ips(&s.cert()).0, ["server.global.nomad", "server.global.example.com", "localhost"]);
    s.cert().verify_signature(Some(c.public_key())).expect("signed by the example.com CA");
    // The constrained CA refuses a name outside its zones: Nomad's verification fails, no file.
    let (code, _, err) = run_in(
        d,
        &["tls", "cert", "create", "-client", "-domain", "example.com", "-additional-dnsname", "evil.org"],
        &[],
    );
    assert_eq!(code, 1);
    assert!(err.starts_with("x509: "), "{err}");
    assert!(!d.join("global-client-example.com.pem").exists());

    // Nomad's own checks of the CA flags.
    assert_eq!(
        run_in(d, &["tls", "ca", "create", "-domain", "other.org"], &[]).2,
        "Please provide the -name-constraint flag to use a custom domain constraint\n"
    );
    assert_eq!(
        run_in(d, &["tls", "ca", "create", "-name-constraint"], &[]).2,
        "Please provide the -domain flag if you want to enable custom domain constraints\n"
    );
}
