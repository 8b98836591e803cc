//! Go `flag` syntax (`-address=x`, `-peer-id abc`, `-json`) rewritten into the GNU syntax clap
//! parses (`--address=x`, `--peer-id abc`, `--json`).
//!
//! Go has no clusters of one-letter flags, so every single-dash word with a name longer than one
//! letter is a long flag: `-yaml` becomes `--yaml` and clap reports it as unknown, just as Go
//! does. One-letter flags (`-t`, `-h`) stay short, and `--t` becomes `-t` because Go accepts
//! either number of dashes. The word after a flag that takes a value (`-token abc`) is that
//! value and is never rewritten, even when it starts with a dash; `--` ends the flags.

/// Rewrites `args`; `takes_value(name)` says whether the flag `name` consumes the next word
/// when written without `=` (false for switches such as `-stale` and for unknown names).
pub fn rewrite(args: &[String], takes_value: impl Fn(&str) -> bool) -> Vec<String> {
    rewrite_words(args, takes_value, false)
}

/// Like [`rewrite`], for the words after a command's name, with Go's rule that flags end at the
/// first argument that is not one (`-` alone included): from there on every word is an
/// argument, so `--` is inserted before it. `list-peers extra -stale` has the argument `extra`
/// and the argument `-stale`, as in Nomad.
pub fn rewrite_flags_then_args(args: &[String], takes_value: impl Fn(&str) -> bool) -> Vec<String> {
    rewrite_words(args, takes_value, true)
}

fn rewrite_words(args: &[String], takes_value: impl Fn(&str) -> bool, args_end_flags: bool) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len() + 1);
    let mut words = args.iter();
    while let Some(arg) = words.next() {
        if arg == "--" {
            out.push(arg.clone());
            out.extend(words.by_ref().cloned());
            break;
        }
        if args_end_flags && (arg.len() < 2 || !arg.starts_with('-')) {
            out.push("--".into());
            out.push(arg.clone());
            out.extend(words.by_ref().cloned());
            break;
        }
        let Some(body) = flag_body(arg) else {
            out.push(arg.clone());
            continue;
        };
        let (name, inline_value) = match body.split_once('=') {
            Some((name, _)) => (name, true),
            None => (body, false),
        };
        let dashes = if name.chars().count() == 1 { "-" } else { "--" };
        out.push(format!("{dashes}{body}"));
        if !inline_value && takes_value(name) {
            out.extend(words.next().cloned());
        }
    }
    out
}

/// clap names long flags GNU-style (`--peer-id`) in its help and errors; Nomad users type and
/// read them Go-style (`-peer-id`), so its texts are shown that way.
pub fn go_style(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("--") {
        let before = rest[..i].chars().next_back();
        let after = rest[i + 2..].chars().next();
        let starts_word = !before.is_some_and(|c| c.is_alphanumeric() || c == '-');
        out.push_str(&rest[..i]);
        out.push_str(if starts_word && after.is_some_and(|c| c.is_ascii_lowercase()) { "-" } else { "--" });
        rest = &rest[i + 2..];
    }
    out.push_str(rest);
    out
}

/// The flag text after its dashes, or `None` for a positional word (`-` alone included) and for
/// malformed flags (`---x`, `-=x`), which are passed through for clap to reject.
fn flag_body(arg: &str) -> Option<&str> {
    let body = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-'))?;
    let malformed = body.is_empty() || body.starts_with('-') || body.starts_with('=');
    (!malformed).then_some(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw(args: &[&str]) -> Vec<String> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        rewrite(&args, |name| matches!(name, "address" | "token" | "peer-id" | "t"))
    }

    #[test]
    fn table() {
        let cases: &[(&[&str], &[&str])] = &[
            // Command words pass through.
            (&["operator", "raft", "list-peers"], &["operator", "raft", "list-peers"]),
            // Switches, with and without an inline value.
            (&["-stale"], &["--stale"]),
            (&["-stale=false"], &["--stale=false"]),
            (&["--stale"], &["--stale"]),
            // Value flags: inline, or the next word.
            (&["-address=http://x:4646"], &["--address=http://x:4646"]),
            (&["-address", "http://x:4646"], &["--address", "http://x:4646"]),
            (&["-peer-id=abc", "-json"], &["--peer-id=abc", "--json"]),
            // A value that looks like a flag is still the value.
            (&["-token", "-secret-", "-stale"], &["--token", "-secret-", "--stale"]),
            (&["-t", "-{{.A}}"], &["-t", "-{{.A}}"]),
            // One-letter flags stay (or become) short.
            (&["-t", "{{.A}}"], &["-t", "{{.A}}"]),
            (&["-t={{.A}}"], &["-t={{.A}}"]),
            (&["--t", "{{.A}}"], &["-t", "{{.A}}"]),
            (&["-h"], &["-h"]),
            (&["-help"], &["--help"]),
            // Unknown names are rewritten too, so clap names them in its error.
            (&["-yaml"], &["--yaml"]),
            (&["-tfoo"], &["--tfoo"]),
            // `--` ends the flags; `-` alone and malformed words pass through.
            (&["--", "-stale"], &["--", "-stale"]),
            (&["-"], &["-"]),
            (&["---x", "-=x"], &["---x", "-=x"]),
            // A value flag at the end keeps its missing value missing.
            (&["-token"], &["--token"]),
            // Non-ASCII one-letter names count letters, not bytes.
            (&["-é"], &["-é"]),
        ];
        for (input, want) in cases {
            assert_eq!(rw(input), *want, "input {input:?}");
        }
    }

    #[test]
    fn flags_end_at_the_first_argument() {
        let rw = |args: &[&str]| {
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            rewrite_flags_then_args(&args, |name| matches!(name, "address" | "t"))
        };
        let cases: &[(&[&str], &[&str])] = &[
            (&["-json", "-t", "x", "-stale"], &["--json", "-t", "x", "--stale"]),
            (&["-json", "extra", "-stale"], &["--json", "--", "extra", "-stale"]),
            (&["-address", "a", "path", "k=v"], &["--address", "a", "--", "path", "k=v"]),
            (&["-", "-x"], &["--", "-", "-x"]),
            (&["--", "-x"], &["--", "-x"]),
            (&[], &[]),
        ];
        for (input, want) in cases {
            assert_eq!(rw(input), *want, "input {input:?}");
        }
    }

    #[test]
    fn messages_name_flags_go_style() {
        let cases = [
            ("error: unexpected argument '--yaml' found", "error: unexpected argument '-yaml' found"),
            ("      --stale[=<bool>]  Let any server answer", "      -stale[=<bool>]  Let any server answer"),
            ("  -h, --help  Print help", "  -h, -help  Print help"),
            ("For more information, try '--help'.", "For more information, try '-help'."),
            // Not flags: `--` alone, before upper case or digits, inside a word.
            ("a -- b --X --1 a--b", "a -- b --X --1 a--b"),
            ("---x", "---x"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(go_style(input), want, "{input}");
        }
    }
}
