//! Go `flag`-package parsing, as Nomad's CLI does it: `-name`, `--name`, `-name=value`,
//! `-name value` (for non-boolean flags); parsing stops at the first non-flag argument or `--`.

use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Value,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FlagError {
    #[error("flag provided but not defined: -{0}")]
    Unknown(String),
    #[error("flag needs an argument: -{0}")]
    MissingValue(String),
    #[error("invalid boolean value {value:?} for -{flag}")]
    BadBool { flag: String, value: String },
    #[error("help requested")]
    Help,
}

/// Parsed flags: the last value of each flag (repeatable flags keep all) and the rest.
#[derive(Debug, Default)]
pub struct Parsed {
    pub values: BTreeMap<String, Vec<String>>,
    pub args: Vec<String>,
}

impl Parsed {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).and_then(|v| v.last()).map(String::as_str)
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        self.get(name).map(|v| v == "true")
    }

    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }
}

fn go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Parses `args` against the `spec` of (name, kind) pairs.
pub fn parse(args: &[String], spec: &[(&str, Kind)]) -> Result<Parsed, FlagError> {
    let mut out = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg == "--" {
            i += 1;
            break;
        }
        let Some(body) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')).filter(|b| !b.is_empty()) else {
            break;
        };
        i += 1;
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        if name == "h" || name == "help" {
            return Err(FlagError::Help);
        }
        let Some((_, kind)) = spec.iter().find(|(n, _)| *n == name) else {
            return Err(FlagError::Unknown(name.to_string()));
        };
        let value = match (kind, inline) {
            (Kind::Bool, None) => "true".to_string(),
            (Kind::Bool, Some(v)) => match go_bool(&v) {
                Some(b) => b.to_string(),
                None => return Err(FlagError::BadBool { flag: name.into(), value: v }),
            },
            (Kind::Value, Some(v)) => v,
            (Kind::Value, None) => {
                let v = args.get(i).cloned().ok_or_else(|| FlagError::MissingValue(name.into()))?;
                i += 1;
                v
            }
        };
        out.values.entry(name.to_string()).or_default().push(value);
    }
    out.args = args[i..].to_vec();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(a: &[&str]) -> Result<Parsed, FlagError> {
        let args: Vec<String> = a.iter().map(|s| s.to_string()).collect();
        parse(&args, &[("stale", Kind::Bool), ("address", Kind::Value), ("t", Kind::Value), ("json", Kind::Bool)])
    }

    #[test]
    fn go_flag_forms() {
        let r = p(&["-address=http://x", "--stale", "-t", "{{.A}}", "rest", "-json"]).unwrap();
        assert_eq!(r.get("address"), Some("http://x"));
        assert_eq!(r.bool("stale"), Some(true));
        assert_eq!(r.get("t"), Some("{{.A}}"));
        assert_eq!(r.args, vec!["rest", "-json"]);
        assert_eq!(p(&["-stale=false"]).unwrap().bool("stale"), Some(false));
        assert_eq!(p(&["-address", "a", "-address", "b"]).unwrap().get("address"), Some("b"));
    }

    #[test]
    fn errors() {
        assert_eq!(p(&["-yaml"]).unwrap_err(), FlagError::Unknown("yaml".into()));
        assert_eq!(p(&["-address"]).unwrap_err(), FlagError::MissingValue("address".into()));
        assert!(matches!(p(&["-stale=maybe"]).unwrap_err(), FlagError::BadBool { .. }));
        assert_eq!(p(&["-h"]).unwrap_err(), FlagError::Help);
        assert_eq!(p(&["--", "-x"]).unwrap().args, vec!["-x"]);
    }
}
