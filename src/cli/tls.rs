//! `raftwarden tls ca create|info` and `tls cert create|info`: Nomad's certificate commands
//! (`command/tls_*.go`), writing the same files with the same names, subject alternative names,
//! key types, validity and console lines, so a cluster can be secured with this binary alone.
//!
//! ```text
//! tls ca create    ─> nomad-agent-ca.pem, nomad-agent-ca-key.pem            (generate)
//! tls cert create  ─> <region>-<server|client|cli>-<domain>.pem, ...-key.pem (generate:
//!                     record_preparation, signed by the CA, verified against it)
//! tls ca|cert info ─> serial, issuer, subject, expiry, names                 (x509)
//! ```
//!
//! `der` reads and writes the DER that rcgen does not (SEC1 keys, certificate fields).

mod der;
mod generate;
mod x509;

use std::io::Write;
use std::net::IpAddr;
use std::path::Path;

use clap::ArgAction;
use clap::Args;
use clap::Subcommand;

use self::generate::CaOptions;
use self::generate::CertOptions;
use self::generate::Role;
use super::error::CliError;
use super::format;
use super::opts::GlobalOpts;
use crate::go;
use crate::go::flag::go_bool;
use crate::go::flag::go_int;

#[derive(Debug, Subcommand)]
pub enum Tls {
    /// Certificate authority commands: create, info
    #[command(subcommand, subcommand_required = true, arg_required_else_help = true)]
    Ca(Ca),
    /// Certificate commands: create, info
    #[command(subcommand, subcommand_required = true, arg_required_else_help = true)]
    Cert(Cert),
}

#[derive(Debug, Subcommand)]
pub enum Ca {
    /// Create a certificate authority for Nomad
    Create(CaCreate),
    /// Show certificate authority information
    Info(Info),
}

#[derive(Debug, Subcommand)]
pub enum Cert {
    /// Create a new TLS certificate
    Create(CertCreate),
    /// Show certificate information
    Info(Info),
}

#[derive(Debug, Args)]
pub struct CaCreate {
    /// Add a DNS zone to the CA's permitted list (repeatable; with -domain and -name-constraint)
    #[arg(long = "additional-domain", value_name = "domain")]
    pub additional_domain: Vec<String>,
    /// Common Name of the CA [default: Nomad Agent CA <serial>]
    #[arg(long = "common-name", value_name = "name", default_value = "")]
    pub common_name: String,
    /// Days the CA is valid for from now on
    #[arg(long, value_name = "int", default_value = "1825", value_parser = go_int, allow_hyphen_values = true)]
    pub days: i64,
    /// Domain of the Nomad cluster (only used with -name-constraint); names the files
    #[arg(long, value_name = "domain", default_value = "nomad")]
    pub domain: String,
    /// Restrict the CA to -domain, localhost and the -additional-domain zones
    #[arg(long = "name-constraint", action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub name_constraint: bool,
    /// Words after the flags (Nomad accepts one and ignores it)
    #[arg(hide = true)]
    pub extra: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CertCreate {
    /// An additional DNS name for the Subject Alternative Names (repeatable)
    #[arg(long = "additional-dnsname", value_name = "name")]
    pub additional_dnsname: Vec<String>,
    /// An additional IP address for the Subject Alternative Names (repeatable)
    #[arg(long = "additional-ipaddress", value_name = "ip")]
    pub additional_ipaddress: Vec<String>,
    /// The CA certificate
    #[arg(long, value_name = "file", default_value = "#DOMAIN#-agent-ca.pem")]
    pub ca: String,
    /// The CA key
    #[arg(long, value_name = "file", default_value = "#DOMAIN#-agent-ca-key.pem")]
    pub key: String,
    /// Generate a certificate for the CLI
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub cli: bool,
    /// Generate a client certificate
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub client: bool,
    /// Generate a server certificate
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub server: bool,
    /// DEPRECATED, use -region
    #[arg(long = "cluster-region", value_name = "region", default_value = "")]
    pub cluster_region: String,
    /// Days the certificate is valid for from now on
    #[arg(long, value_name = "int", default_value = "365", value_parser = go_int, allow_hyphen_values = true)]
    pub days: i64,
    /// The cluster's domain
    #[arg(long, value_name = "domain", default_value = "nomad")]
    pub domain: String,
    /// Words after the flags (Nomad accepts one and ignores it)
    #[arg(hide = true)]
    pub extra: Vec<String>,
}

#[derive(Debug, Args)]
pub struct Info {
    /// The PEM file
    #[arg(hide = true)]
    pub args: Vec<String>,
}

/// A `tls` command's own failure, with Nomad's text.
fn fail(text: impl Into<String>) -> CliError {
    CliError::Tls(text.into())
}

pub fn execute(g: &GlobalOpts, command: Tls) -> Result<String, CliError> {
    match command {
        Tls::Ca(Ca::Create(a)) => ca_create(a),
        Tls::Ca(Ca::Info(a)) => info(a, InfoKind::Ca),
        Tls::Cert(Cert::Create(a)) => cert_create(g, a),
        Tls::Cert(Cert::Info(a)) => info(a, InfoKind::Cert),
    }
}

fn ca_create(a: CaCreate) -> Result<String, CliError> {
    if a.extra.len() > 1 {
        return Err(CliError::Usage("This command takes up to one argument", "raftwarden tls ca create"));
    }
    if !a.domain.is_empty() && a.domain != "nomad" && !a.name_constraint {
        return Err(fail("Please provide the -name-constraint flag to use a custom domain constraint"));
    }
    if a.domain == "nomad" && a.name_constraint {
        return Err(fail("Please provide the -domain flag if you want to enable custom domain constraints"));
    }
    if !a.additional_domain.is_empty() && a.domain.is_empty() && !a.name_constraint {
        return Err(fail("Please provide the -name-constraint flag to use a custom domain constraints"));
    }
    let cert_file = format!("{}-agent-ca.pem", a.domain);
    let key_file = format!("{}-agent-ca-key.pem", a.domain);
    if exists(&cert_file) {
        return Err(fail(format!("CA certificate file '{cert_file}' already exists")));
    }
    if exists(&key_file) {
        return Err(fail(format!("CA key file '{key_file}' already exists")));
    }
    let permitted_dns_domains = if a.name_constraint {
        [a.domain.clone(), "localhost".into(), "nomad".into()].into_iter().chain(a.additional_domain).collect()
    } else {
        Vec::new()
    };
    let ca =
        generate::generate_ca(&CaOptions { name: a.common_name, days: a.days, permitted_dns_domains }).map_err(fail)?;
    write_atomic(&cert_file, &ca.cert_pem, 0o666)?;
    output(&format!("==> CA certificate saved to: {cert_file}"));
    write_atomic(&key_file, &ca.key_pem, 0o600)?;
    output(&format!("==> CA certificate key saved to: {key_file}"));
    Ok(String::new())
}

fn cert_create(g: &GlobalOpts, a: CertCreate) -> Result<String, CliError> {
    if a.extra.len() > 1 {
        return Err(CliError::Usage("This command takes up to one argument", "raftwarden tls cert create"));
    }
    if a.ca.is_empty() {
        return Err(fail("Please provide the ca"));
    }
    if a.key.is_empty() {
        return Err(fail("Please provide the key"));
    }
    let role = match (a.server, a.client, a.cli) {
        (true, false, false) => Role::Server,
        (false, true, false) => Role::Client,
        (false, false, true) => Role::Cli,
        _ => return Err(fail("Please provide either -server, -client, or -cli")),
    };
    let dns_names: Vec<String> =
        a.additional_dnsname.iter().filter(|d| !d.is_empty()).map(|d| d.trim().to_string()).collect();
    let mut ip_addresses: Vec<IpAddr> = Vec::new();
    for ip in a.additional_ipaddress.iter().filter(|i| !i.is_empty()) {
        let parsed = ip.trim().parse().map_err(|_| fail(format!("Invalid IP address {}", go::quote(ip.trim()))))?;
        ip_addresses.push(parsed);
    }
    // -cluster-region, else the -region flag or NOMAD_REGION, else "global".
    let region = match g.region.as_deref().map(str::trim) {
        _ if !a.cluster_region.is_empty() => a.cluster_region.clone(),
        Some(r) if !r.is_empty() && r != "global" => r.to_string(),
        _ => "global".to_string(),
    };
    let record = generate::record_preparation(role, &region, &a.domain, dns_names, ip_addresses);
    let cert_file = format!("{}.pem", record.prefix);
    let key_file = format!("{}-key.pem", record.prefix);
    if exists(&cert_file) {
        return Err(fail(format!("Certificate file '{cert_file}' already exists")));
    }
    if exists(&key_file) {
        return Err(fail(format!("Key file '{key_file}' already exists")));
    }
    let ca_file = a.ca.replacen("#DOMAIN#", &a.domain, 1);
    let ca_key_file = a.key.replacen("#DOMAIN#", &a.domain, 1);
    let ca_pem =
        std::fs::read(&ca_file).map_err(|e| fail(format!("Error reading CA: {}", open_error(&ca_file, &e))))?;
    let ca_key_pem = std::fs::read(&ca_key_file)
        .map_err(|e| fail(format!("Error reading CA key: {}", open_error(&ca_key_file, &e))))?;
    if role == Role::Server {
        eprintln!(
            "==> WARNING: Server Certificates grants authority to become a\n    server and access all state in the cluster including root keys\n    and all ACL tokens. Do not distribute them to production hosts\n    that are not server nodes. Store them as securely as CA keys."
        );
    }
    output(&format!("==> Using CA file {ca_file} and CA key {ca_key_file}"));
    let opts = CertOptions {
        name: record.name.clone(),
        days: a.days,
        dns_names: record.dns_names,
        ip_addresses: record.ip_addresses,
        ext_key_usage: record.ext_key_usage,
    };
    let cert = generate::generate_cert(&ca_pem, &ca_key_pem, &opts).map_err(fail)?;
    write_atomic(&cert_file, &cert.cert_pem, 0o666)?;
    let (saved, key_saved) = match role {
        Role::Server => ("Server Certificate", "Server Certificate key"),
        Role::Client => ("Client Certificate", "Client Certificate key"),
        Role::Cli => ("Cli Certificate", "CLI Certificate key"),
    };
    output(&format!("==> {saved} saved to {cert_file}"));
    write_atomic(&key_file, &cert.key_pem, 0o600)?;
    output(&format!("==> {key_saved} saved to {key_file}"));
    Ok(String::new())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum InfoKind {
    Ca,
    Cert,
}

/// `tls ca info <file>` / `tls cert info <file>`: Nomad's table of the certificate's fields.
fn info(a: Info, kind: InfoKind) -> Result<String, CliError> {
    let command = match kind {
        InfoKind::Ca => "raftwarden tls ca info",
        InfoKind::Cert => "raftwarden tls cert info",
    };
    if a.args.len() > 1 {
        return Err(CliError::Usage("This command takes up to one argument", command));
    }
    let what = match kind {
        InfoKind::Ca => "CA file",
        InfoKind::Cert => "certificate file",
    };
    let pem = match a.args.first() {
        Some(file) => {
            std::fs::read(file).map_err(|e| fail(format!("Error reading {what}: {}", open_error(file, &e))))?
        }
        // Nomad prints its nil error here.
        None if kind == InfoKind::Ca => return Err(fail("Error reading CA file: <nil>")),
        None => Vec::new(),
    };
    let (cert, _) = x509::parse_pem(&pem).map_err(|e| fail(e.to_string()))?;
    let mut rows = vec![
        ("Serial Number", der::decimal(&cert.serial)),
        ("Issuer CN", cert.issuer.common_name()),
        ("Common Name", cert.subject.go_string()),
        ("Expiry Date", x509::go_time(cert.not_after)),
    ];
    match kind {
        InfoKind::Ca => rows.push(("Permitted DNS Domains", x509::go_list(&cert.permitted_dns_domains))),
        InfoKind::Cert => {
            rows.push(("DNS Names", x509::go_list(&cert.dns_names)));
            let ips: Vec<String> = cert.ip_addresses.iter().map(x509::go_ip).collect();
            rows.push(("IP Addresses", x509::go_list(&ips)));
        }
    }
    let rows: Vec<Vec<String>> = rows.into_iter().map(|(k, v)| vec![k.to_string(), v]).collect();
    Ok(format::columnize(&rows, "  ", ""))
}

/// Nomad's `Ui.Output`, printed as the command goes, so the lines before a failure show.
fn output(line: &str) {
    println!("{line}");
}

/// Nomad's `fileDoesNotExist`, negated: anything but "not found" counts as existing.
fn exists(path: &str) -> bool {
    !matches!(std::fs::symlink_metadata(path), Err(e) if e.kind() == std::io::ErrorKind::NotFound)
}

/// Go's `os.ReadFile` error text.
fn open_error(path: &str, e: &std::io::Error) -> String {
    format!("open {path}: {}", go::os_error(e))
}

/// Nomad's `file.WriteAtomicWithPerms`: the directory made if missing, the contents written
/// and synced to `<path>-<uuid>.tmp` with `mode`, then renamed over `path`.
fn write_atomic(path: &str, contents: &str, mode: u32) -> Result<(), CliError> {
    let target = Path::new(path);
    let failed = |e: std::io::Error| fail(format!("{path}: {}", go::os_error(&e)));
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    let tmp = format!("{path}-{}.tmp", uuid::Uuid::new_v4());
    let write = || -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
        #[cfg(not(unix))]
        let _ = mode;
        let mut file = options.open(&tmp)?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, target)
    };
    let result = write();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::super::args::parse_ok;
    use super::super::args::parse_strs;
    use super::super::args::Command;
    use super::*;

    fn cert_create(args: &[&str]) -> CertCreate {
        let mut all = vec!["tls", "cert", "create"];
        all.extend_from_slice(args);
        match parse_ok(&all).command {
            Command::Tls(Tls::Cert(Cert::Create(c))) => c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn grammar_in_go_syntax() {
        let c = cert_create(&[
            "-server",
            "-additional-dnsname=a.example",
            "-additional-dnsname",
            "b.example",
            "-additional-ipaddress",
            "10.0.0.1",
            "-days=-1",
            "-ca",
            "my-ca.pem",
        ]);
        assert!(c.server && !c.client && !c.cli);
        assert_eq!(c.additional_dnsname, ["a.example", "b.example"]);
        assert_eq!(c.additional_ipaddress, ["10.0.0.1"]);
        assert_eq!(c.days, -1);
        assert_eq!(c.ca, "my-ca.pem");
        assert_eq!(c.key, "#DOMAIN#-agent-ca-key.pem");
        assert_eq!(c.domain, "nomad");
        let c = cert_create(&[]);
        assert_eq!((c.days, c.ca.as_str()), (365, "#DOMAIN#-agent-ca.pem"));
        let cli = parse_ok(&["tls", "ca", "create", "-name-constraint", "-domain=example.com", "-additional-domain=x"]);
        let Command::Tls(Tls::Ca(Ca::Create(ca))) = cli.command else { panic!() };
        assert!(ca.name_constraint);
        assert_eq!((ca.days, ca.domain.as_str(), ca.additional_domain.len()), (1825, "example.com", 1));
        // -region is the global flag.
        let cli = parse_ok(&["tls", "cert", "create", "-client", "-region", "eu"]);
        assert_eq!(cli.global.region.as_deref(), Some("eu"));
        match parse_strs(&["tls", "ca", "create", "-days=abc"]) {
            Err(crate::cli::args::ParseFailure::Flag { message, .. }) => {
                assert_eq!(message, "invalid value \"abc\" for flag -days: parse error")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn usage_errors_before_any_file() {
        let err = |c: CertCreate| super::cert_create(&GlobalOpts::default(), c).unwrap_err().to_string();
        assert_eq!(err(cert_create(&[])), "Please provide either -server, -client, or -cli");
        assert_eq!(err(cert_create(&["-server", "-client"])), "Please provide either -server, -client, or -cli");
        assert_eq!(err(cert_create(&["-server", "-ca="])), "Please provide the ca");
        assert_eq!(err(cert_create(&["-server", "-key="])), "Please provide the key");
        assert_eq!(
            err(cert_create(&["-server", "a", "b"])),
            "This command takes up to one argument\nFor additional help try 'raftwarden tls cert create -help'"
        );
        assert_eq!(err(cert_create(&["-cli", "-additional-ipaddress=not-an-ip"])), "Invalid IP address \"not-an-ip\"");
        let ca = |args: &[&str]| {
            let mut all = vec!["tls", "ca", "create"];
            all.extend_from_slice(args);
            let Command::Tls(Tls::Ca(Ca::Create(c))) = parse_ok(&all).command else { panic!() };
            ca_create(c).unwrap_err().to_string()
        };
        assert_eq!(
            ca(&["-domain=example.com"]),
            "Please provide the -name-constraint flag to use a custom domain constraint"
        );
        assert_eq!(
            ca(&["-name-constraint"]),
            "Please provide the -domain flag if you want to enable custom domain constraints"
        );
        assert_eq!(
            ca(&["-domain=", "-additional-domain=x"]),
            "Please provide the -name-constraint flag to use a custom domain constraints"
        );
    }
}
