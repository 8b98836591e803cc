//! The installed license: one replicated row, and the rule for replacing it.

use serde::Deserialize;
use serde::Serialize;

use super::Row;
use crate::license::document::License;
use crate::license::document::LicenseInvalid;
use crate::license::document::Verified;

/// The license row. The document is kept as its JSON (Go's `Flags` is a free-form map, which
/// the compact log encoding cannot carry as a typed value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledLicense {
    /// The license document as JSON, in Nomad's field order.
    pub payload: String,
    /// The license file as installed; `None` for the temporary license of a new cluster.
    pub signed: Option<String>,
    /// Unix seconds of its `IssueTime`: which of two licenses is newer.
    pub issue_time: i64,
}

impl InstalledLicense {
    /// A license that passed verification, with the file it came from.
    pub fn signed(text: &str, verified: &Verified) -> Self {
        Self {
            payload: serde_json::to_string(&verified.license).unwrap_or_default(),
            signed: Some(text.trim().to_string()),
            issue_time: verified.times.issue,
        }
    }

    /// The temporary license a new cluster starts with.
    pub fn temporary(license: &License, issue_time: i64) -> Self {
        Self { payload: serde_json::to_string(license).unwrap_or_default(), signed: None, issue_time }
    }

    pub fn is_temporary(&self) -> bool {
        self.signed.is_none()
    }

    /// The document.
    pub fn license(&self) -> Result<License, LicenseInvalid> {
        serde_json::from_str(&self.payload).map_err(|e| LicenseInvalid::Malformed(format!("stored license: {e}")))
    }
}

/// Whether `new` may replace the installed license: always over none or over the temporary
/// one; over a signed one only if it was not issued earlier, unless `force`.
pub fn may_replace(current: Option<&Row<InstalledLicense>>, new: &InstalledLicense, force: bool) -> bool {
    match current {
        None => true,
        Some(row) if row.value.is_temporary() || force => true,
        Some(row) => new.issue_time >= row.value.issue_time,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn installed(issue_time: i64, signed: bool) -> InstalledLicense {
        InstalledLicense { payload: "{}".into(), signed: signed.then(|| "x.y".into()), issue_time }
    }

    fn row(v: InstalledLicense) -> Row<InstalledLicense> {
        Row { value: v, create_index: 1, modify_index: 1 }
    }

    #[test]
    fn replacement_rule() {
        let cases = [
            ("nothing installed", None, installed(5, true), false, true),
            ("over the temporary license", Some(installed(10, false)), installed(5, true), false, true),
            ("newer", Some(installed(5, true)), installed(6, true), false, true),
            ("same issue time (reinstall)", Some(installed(5, true)), installed(5, true), false, true),
            ("older", Some(installed(5, true)), installed(4, true), false, false),
            ("older with force", Some(installed(5, true)), installed(4, true), true, true),
        ];
        for (name, current, new, force, want) in cases {
            let current = current.map(row);
            assert_eq!(may_replace(current.as_ref(), &new, force), want, "{name}");
        }
    }
}
