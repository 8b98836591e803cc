//! The options every command shares: [`GlobalOpts`] (Nomad's `FlagSetClient` flags and their
//! `NOMAD_*` environment variables) and [`Output`] (`-json` / `-t`).

use clap::ArgAction;
use clap::Args;

use crate::go::flag::go_bool;

/// Options every command accepts, as Nomad's `FlagSetClient` does.
#[derive(Debug, Default, Args)]
pub struct GlobalOpts {
    /// Address of the server's HTTP API [default: http://127.0.0.1:4646]
    #[arg(
        long,
        global = true,
        env = "NOMAD_ADDR",
        value_name = "addr",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    pub address: Option<String>,
    /// ACL token, sent as X-Nomad-Token
    #[arg(
        long,
        global = true,
        env = "NOMAD_TOKEN",
        value_name = "token",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    pub token: Option<String>,
    /// Region to forward the request to, sent as ?region=
    #[arg(
        long,
        global = true,
        env = "NOMAD_REGION",
        value_name = "region",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    pub region: Option<String>,
    /// The target namespace for queries and actions bound to a namespace
    #[arg(
        long,
        global = true,
        env = "NOMAD_NAMESPACE",
        value_name = "namespace",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    pub namespace: Option<String>,
    /// Disables colored command output (this CLI never colours its output)
    #[arg(long, global = true, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub no_color: bool,
    /// Forces colored command output (accepted for compatibility; output is never coloured)
    #[arg(long, global = true, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub force_color: bool,
    /// PEM CA certificate that verifies the server's certificate [env: NOMAD_CACERT]
    #[arg(long, global = true, value_name = "path", allow_hyphen_values = true)]
    pub ca_cert: Option<String>,
    /// Directory of PEM CA certificates (-ca-cert wins) [env: NOMAD_CAPATH]
    #[arg(long, global = true, value_name = "path", allow_hyphen_values = true)]
    pub ca_path: Option<String>,
    /// PEM client certificate to present; needs -client-key [env: NOMAD_CLIENT_CERT]
    #[arg(long, global = true, value_name = "path", allow_hyphen_values = true)]
    pub client_cert: Option<String>,
    /// Unencrypted PEM key of -client-cert [env: NOMAD_CLIENT_KEY]
    #[arg(long, global = true, value_name = "path", allow_hyphen_values = true)]
    pub client_key: Option<String>,
    /// Name the server's certificate must carry, instead of the address's host
    /// [env: NOMAD_TLS_SERVER_NAME]
    #[arg(long, global = true, value_name = "name", allow_hyphen_values = true)]
    pub tls_server_name: Option<String>,
    /// Do not verify the server's certificate [env: NOMAD_SKIP_VERIFY]
    #[arg(long, global = true, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub tls_skip_verify: bool,
    /// Same as -tls-skip-verify
    #[arg(long, global = true, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub insecure: bool,
}

/// `-json` / `-t`: print the response object instead of the text form.
#[derive(Debug, Args)]
pub struct Output {
    /// Output the response in JSON format
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub json: bool,
    /// Format the response with a Go template, e.g. '{{.Field}}'
    #[arg(short = 't', value_name = "template", allow_hyphen_values = true)]
    pub template: Option<String>,
}
