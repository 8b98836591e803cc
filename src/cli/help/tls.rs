//! Help texts of the `tls` commands, in the wording and layout of Nomad's `Help()` for the
//! flags this CLI supports (the Nomad file each follows is named in `source`).

use super::Entry;

pub const ENTRIES: &[Entry] = &[
    Entry {
        path: "tls",
        synopsis: "Generate Self Signed TLS Certificates for Nomad",
        source: "command/tls.go",
        text: r#"Usage: raftwarden tls <subcommand> <subcommand> [options]

This command groups subcommands for creating certificates for Nomad TLS configuration. 
The TLS command allows operators to generate self signed certificates to use
when securing your Nomad cluster.

Some simple examples for creating certificates can be found here.
More detailed examples are available in the subcommands or the documentation.

Create a CA

    $ raftwarden tls ca create

Create a server certificate

    $ raftwarden tls cert create -server

Create a client certificate

    $ raftwarden tls cert create -client"#,
    },
    Entry {
        path: "tls ca",
        synopsis: "Helpers for managing certificate authorities",
        source: "command/tls_ca.go",
        text: r#"Usage: raftwarden tls ca <subcommand> [options]

  This command groups subcommands for interacting with certificate authorities.
  For examples, see the documentation.

  Create a certificate authority.

      $ raftwarden tls ca create

  Show information about a certificate authority.

      $ raftwarden tls ca info"#,
    },
    Entry {
        path: "tls ca create",
        synopsis: "Create a certificate authority for Nomad",
        source: "command/tls_ca_create.go",
        text: r#"Usage: raftwarden tls ca create [options]

  Create a new certificate authority.

CA Create Options:

  -additional-domain
    Add additional DNS zones to the allowed list for the CA. The server will
    reject certificates for DNS names other than those specified in -domain and
    -additional-domain. This flag can be used multiple times. Only used in
    combination with -domain and -name-constraint.

  -common-name
    Common Name of CA. Defaults to "Nomad Agent CA".

  -days
    Provide number of days the CA is valid for from now on.
    Defaults to 5 years or 1825 days.

  -domain
    Domain of Nomad cluster. Only used in combination with -name-constraint.
    Defaults to "nomad".

  -name-constraint
    Enables the DNS name restriction functionality to the CA. Results in the CA
    rejecting certificates for any other DNS zone. If enabled, localhost and the
    value of -domain will be added to the allowed DNS zones field. If the UI is
    going to be served over HTTPS its hostname must be added with
    -additional-domain. Defaults to false."#,
    },
    Entry {
        path: "tls ca info",
        synopsis: "Show certificate authority information",
        source: "command/tls_ca_info.go",
        text: r#"Usage: raftwarden tls ca info <CA file>

  Show information about a certificate authority."#,
    },
    Entry {
        path: "tls cert",
        synopsis: "Helpers for managing certificates",
        source: "command/tls_cert.go",
        text: r#"Usage: raftwarden tls cert <subcommand> [options]

  This command groups subcommands for interacting with certificates.
  For examples, see the documentation.

  Create a TLS certificate.

      $ raftwarden tls cert create

  Show information about a TLS certificate.

      $ raftwarden tls cert info"#,
    },
    Entry {
        path: "tls cert create",
        synopsis: "Create a new TLS certificate",
        source: "command/tls_cert_create.go",
        text: r#"Usage: raftwarden tls cert create [options]

  Create a new TLS certificate to use within the Nomad cluster TLS
  configuration. You should use the -client, -server or -cli options to create
  certificates for these roles.

Certificate Create Options:

  -additional-dnsname
    Provide an additional dnsname for Subject Alternative Names.
    "localhost" is always included. This flag may be provided multiple times.

  -additional-ipaddress
    Provide an additional ipaddress for Subject Alternative Names.
    "127.0.0.1" is always included. This flag may be provided multiple times.

  -ca
    Provide path to the certificate authority certificate. Defaults to
    #DOMAIN#-agent-ca.pem.

  -cli
    Generate a certificate for use with the Nomad CLI.

  -client
    Generate a client certificate.

  -days
    Provide number of days the certificate is valid for from now on.
    Defaults to 1 year.

  -domain
    Provide the domain. Only used for -server certificates.

  -key
    Provide path to the certificate authority key. Defaults to
    #DOMAIN#-agent-ca-key.pem.
  
  -region
    Provide the region. Only used for -server certificates.
    Defaults to "global".

  -server
    Generate a server certificate."#,
    },
    Entry {
        path: "tls cert info",
        synopsis: "Show certificate information",
        source: "command/tls_cert_info.go",
        text: r#"Usage: raftwarden tls cert info <certificate file>

  Show information about a TLS certificate."#,
    },
];
