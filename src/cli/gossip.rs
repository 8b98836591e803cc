//! `operator gossip keyring list|install|use|remove|generate` (Nomad's
//! `command/operator_gossip_keyring_*.go`, with their texts) and the older `operator keygen`,
//! which Nomad deprecated for `generate` and this CLI keeps with Nomad's warning.
//!
//! `list`, `install`, `use` and `remove` call the agent's `/v1/agent/keyring/*`, which reaches
//! every alive server; each prints what it is about to do first, as Nomad's do, then exits 0,
//! or 1 with `error: <reason>` when a server failed or did not answer. `generate` needs no
//! server: a random 32-byte key in base64, what `server { encrypt }` takes.

use base64::Engine as _;
use clap::Args;
use clap::Subcommand;
use serde_json::Value;

use super::client::Client;
use super::error::CliError;
use super::format;
use super::opts::GlobalOpts;

const KEYRING: &str = "/v1/agent/keyring";

#[derive(Debug, Subcommand)]
pub enum Gossip {
    /// Manages gossip layer encryption keys
    #[command(subcommand, subcommand_required = true, arg_required_else_help = true)]
    Keyring(Keyring),
}

#[derive(Debug, Subcommand)]
pub enum Keyring {
    /// Generates a new encryption key
    Generate(Words),
    /// Install a gossip encryption key
    Install(Words),
    /// List gossip encryption keys
    List(Words),
    /// Remove a gossip encryption key
    Remove(Words),
    /// Change the gossip encryption key
    Use(Words),
}

/// The words after a command's flags: Nomad counts them itself and says what it expected.
#[derive(Debug, Args)]
pub struct Words {
    /// <key> for install, use and remove
    #[arg(value_name = "key")]
    pub args: Vec<String>,
}

/// Runs one `operator gossip keyring` command; `Ok` is the rest of stdout.
pub async fn execute(g: &GlobalOpts, command: Gossip) -> Result<String, CliError> {
    let Gossip::Keyring(command) = command;
    match command {
        Keyring::Generate(_) => generate(),
        Keyring::List(w) => {
            if !w.args.is_empty() {
                return Err(CliError::Usage(NO_ARGUMENTS, "raftwarden operator gossip keyring list"));
            }
            let client = Client::new(g).map_err(CliError::Client)?;
            // Nomad says what it is doing before it asks (Ui.Output), so this line stands
            // before an error too.
            println!("Gathering installed encryption keys...");
            let answer = client.get(&format!("{KEYRING}/list"), &[]).await.map_err(keyring_error)?;
            Ok(key_list(&answer))
        }
        Keyring::Install(w) => change(g, w, "install", "Installing new gossip encryption key...").await,
        Keyring::Use(w) => change(g, w, "use", "Changing primary gossip encryption key...").await,
        Keyring::Remove(w) => change(g, w, "remove", "Removing gossip encryption key...").await,
    }
}

const NO_ARGUMENTS: &str = "This command takes no arguments";

async fn change(g: &GlobalOpts, w: Words, op: &'static str, doing: &str) -> Result<String, CliError> {
    let [key] = w.args.as_slice() else {
        let usage = match op {
            "install" => "raftwarden operator gossip keyring install",
            "use" => "raftwarden operator gossip keyring use",
            _ => "raftwarden operator gossip keyring remove",
        };
        return Err(CliError::Usage("This command requires one argument: <key>", usage));
    };
    let client = Client::new(g).map_err(CliError::Client)?;
    println!("{doing}");
    let body = serde_json::json!({ "Key": key });
    client.put(&format!("{KEYRING}/{op}"), &[], Some(&body)).await.map_err(keyring_error)?;
    Ok(String::new())
}

fn keyring_error(e: super::client::ClientError) -> CliError {
    CliError::Keyring(format!("error: {e}"))
}

/// Nomad's listing: a `Key` column of every key any server has installed (one line each,
/// sorted here where Nomad's map order is random).
pub fn key_list(answer: &Value) -> String {
    let mut rows = vec![vec!["Key".to_string()]];
    if let Some(keys) = answer["Keys"].as_object() {
        let mut keys: Vec<&String> = keys.keys().collect();
        keys.sort();
        rows.extend(keys.into_iter().map(|k| vec![k.clone()]));
    }
    format::columnize(&rows, "  ", "<none>")
}

/// A new 32-byte key (AES-256) in standard base64.
pub fn generate() -> Result<String, CliError> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| CliError::Keyring(format!("Error reading random data: {e}")))?;
    Ok(format!("{}\n", base64::engine::general_purpose::STANDARD.encode(key)))
}

/// `operator keygen`: Nomad's deprecation warning on stderr, then what `generate` prints.
pub fn keygen() -> Result<String, CliError> {
    eprintln!(
        "{}\n",
        wrap_at_length(
            "WARNING! The \"raftwarden operator keygen\" command is deprecated. Please use \"raftwarden \
             operator gossip keyring generate\" instead. This command will be removed a later version \
             of Nomad."
        )
    );
    generate()
}

/// Nomad's `wrapAtLength`: words wrapped at 78 columns.
fn wrap_at_length(text: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.len() + 1 + word.len() <= 78 => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::parse_ok as ok;
    use crate::cli::args::parse_strs as p;
    use crate::cli::args::Command;
    use crate::cli::args::ParseFailure;
    use crate::cli::operator::Operator;

    #[test]
    fn grammar() {
        let cli = ok(&["operator", "gossip", "keyring", "install", "AAAA"]);
        let Command::Operator(Operator::Gossip(Gossip::Keyring(Keyring::Install(w)))) = cli.command else { panic!() };
        assert_eq!(w.args, ["AAAA"]);
        let cli = ok(&["operator", "gossip", "keyring", "list", "-address=http://127.0.0.1:1"]);
        assert_eq!(cli.global.address.as_deref(), Some("http://127.0.0.1:1"));
        assert!(matches!(p(&["operator", "gossip", "keyring"]), Err(ParseFailure::Group(_))));
        assert!(matches!(p(&["operator", "gossip"]), Err(ParseFailure::Group(_))));
        assert!(matches!(ok(&["operator", "keygen"]).command, Command::Operator(Operator::Keygen(_))));
    }

    #[test]
    fn generated_keys_are_32_random_bytes() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_ne!(a, b);
        let key = base64::engine::general_purpose::STANDARD.decode(a.trim_end()).unwrap();
        assert_eq!(key.len(), 32);
        assert!(a.ends_with('\n'));
    }

    #[test]
    fn listing_as_nomad_prints_it() {
        let answer = serde_json::json!({"Messages": {}, "Keys": {"b==": 3, "a==": 2}, "NumNodes": 3});
        assert_eq!(key_list(&answer), "Key\na==\nb==\n");
        assert_eq!(key_list(&serde_json::json!({})), "Key\n");
    }

    #[test]
    fn deprecation_wraps_like_nomad() {
        let text = wrap_at_length(
            "WARNING! The \"raftwarden operator keygen\" command is deprecated. Please use \"raftwarden \
             operator gossip keyring generate\" instead. This command will be removed a later version \
             of Nomad.",
        );
        assert!(text.lines().all(|l| l.len() <= 78), "{text}");
        assert!(text.starts_with("WARNING! The \"raftwarden operator keygen\" command is deprecated."));
    }
}
