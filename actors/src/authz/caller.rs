//! Who asks for an operation ([`Caller`]) and what that turns out to allow on the server that
//! runs it ([`Authority`]), and what each operation requires ([`Guarded`]). Plain data and pure
//! decisions: reading the caller's token and policies from the replicated tables is the
//! server's business (`ServerContext::authority`), and every operation passes the one check
//! (`forward::admit`) before it runs.

use std::fmt;

use super::compile_rules;
use super::Acl;
use super::Requirement;
use crate::state::AclPolicy;
use crate::state::AclToken;

/// Who sends an operation. Every client operation carries one, to whichever server runs it.
#[derive(Clone, PartialEq, Eq)]
pub enum Caller {
    /// A client, by the secret of its ACL token (`X-Nomad-Token`); empty: the anonymous
    /// caller.
    Token(String),
    /// The server itself (its leader duties, the open `/v1/status/peers`), or an application
    /// embedding it that acts on the server's own authority: nothing is checked. It never
    /// travels: a forwarded operation carries a token or nothing (`wire::CALLER_HEADER`), and
    /// no header or body decodes to it, so a remote peer cannot claim it. An operation with
    /// this caller therefore runs only where it is sent: a follower answers
    /// `OpError::TrustedNotForwarded` rather than forwarding it to the leader.
    Trusted,
}

impl Caller {
    /// The caller without a token.
    pub fn anonymous() -> Self {
        Caller::Token(String::new())
    }

    /// A client with this secret (empty: anonymous).
    pub fn token(secret: impl Into<String>) -> Self {
        Caller::Token(secret.into())
    }
}

impl Default for Caller {
    /// The anonymous caller: what an operation sent without a caller runs as.
    fn default() -> Self {
        Caller::anonymous()
    }
}

impl fmt::Debug for Caller {
    /// Never prints the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Caller::Token(s) if s.is_empty() => f.write_str("Caller::Anonymous"),
            Caller::Token(_) => f.write_str("Caller::Token(<redacted>)"),
            Caller::Trusted => f.write_str("Caller::Trusted"),
        }
    }
}

/// A caller's secret as this server's tables resolve it: its token (`None`: the anonymous
/// caller) and the policies that apply (the anonymous policy without a token, none for a
/// management token; policies a token names that do not exist are skipped, as in Nomad).
#[derive(Clone, Debug, Default)]
pub struct Resolved {
    pub token: Option<AclToken>,
    pub policies: Vec<AclPolicy>,
}

/// Why a secret did not resolve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unresolved {
    /// It names no token.
    NotFound,
    /// Its token has expired.
    Expired,
}

/// Why an operation was refused to its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denied {
    /// The caller may not do this. Also the answer to an unknown or expired token, as Nomad's
    /// endpoints answer once authentication failed.
    Permission,
    /// The caller's secret did not resolve, answered as such (Nomad's token endpoints do).
    Unresolved(Unresolved),
}

/// What a caller turned out to be, on the server that runs its operation.
#[derive(Clone, Debug)]
pub enum Authority {
    /// ACLs are off, or the caller is [`Caller::Trusted`]: everything is allowed.
    Unrestricted,
    /// A client whose secret resolved (`token: None`: the anonymous caller), its policies
    /// compiled.
    Client { token: Option<Box<AclToken>>, acl: Box<Acl> },
    /// A client whose secret names no token, or an expired one: allowed nothing.
    Unresolved(Unresolved),
}

impl Authority {
    /// A resolved client: a management token allows everything, any other token (and the
    /// anonymous caller) what its policies grant. A stored policy that no longer parses grants
    /// nothing rather than failing every request.
    pub fn of(resolved: Resolved) -> Self {
        let acl = if resolved.token.as_ref().is_some_and(AclToken::is_management) {
            Acl::management()
        } else {
            compile_rules(resolved.policies.iter().map(|p| p.rules.as_str()))
        };
        Authority::Client { token: resolved.token.map(Box::new), acl: Box::new(acl) }
    }

    /// Whether the caller may do `req`.
    pub fn allows(&self, req: &Requirement<'_>) -> bool {
        match self {
            Authority::Unrestricted => true,
            Authority::Client { acl, .. } => acl.allows(req),
            Authority::Unresolved(_) => false,
        }
    }

    /// `req`, or `Permission denied`.
    pub fn require(&self, req: &Requirement<'_>) -> Result<(), Denied> {
        if self.allows(req) {
            Ok(())
        } else {
            Err(Denied::Permission)
        }
    }

    pub fn is_management(&self) -> bool {
        match self {
            Authority::Unrestricted => true,
            Authority::Client { acl, .. } => acl.is_management(),
            Authority::Unresolved(_) => false,
        }
    }

    /// Anyone whose secret resolved, the anonymous caller included; an unknown or expired
    /// token is `Permission denied`.
    pub fn known(&self) -> Result<(), Denied> {
        match self {
            Authority::Unresolved(_) => Err(Denied::Permission),
            _ => Ok(()),
        }
    }

    /// The caller's own token (`None`: anonymous, or unrestricted); an unknown or expired
    /// secret is that failure itself, as Nomad's token endpoints answer it.
    pub fn token(&self) -> Result<Option<&AclToken>, Denied> {
        match self {
            Authority::Unrestricted => Ok(None),
            Authority::Client { token, .. } => Ok(token.as_deref()),
            Authority::Unresolved(why) => Err(Denied::Unresolved(*why)),
        }
    }

    /// Only the server's own authority: a server's duty toward another (a join). With ACLs off
    /// every caller is unrestricted, as in Nomad; the internal RPC port then guards server
    /// duties by the connection alone.
    pub fn server_only(&self) -> Result<(), Denied> {
        match self {
            Authority::Unrestricted => Ok(()),
            _ => Err(Denied::Permission),
        }
    }
}

/// What an operation requires of its caller. Answered on the server that runs the operation,
/// with the caller resolved against that server's own tables, before the operation runs.
pub trait Guarded {
    fn authorize(&self, who: &Authority) -> Result<(), Denied>;
}

/// A plain requirement guards work that is no single operation (an upload not yet spooled, an
/// agent endpoint).
impl Guarded for Requirement<'_> {
    fn authorize(&self, who: &Authority) -> Result<(), Denied> {
        who.require(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::acl::CLIENT;
    use crate::state::acl::MANAGEMENT;

    fn client(policies: &[&str]) -> Authority {
        let token = AclToken { token_type: CLIENT.into(), policies: vec!["p".into()], ..AclToken::default() };
        let policies = policies
            .iter()
            .map(|rules| AclPolicy { name: "p".into(), rules: (*rules).into(), ..AclPolicy::default() })
            .collect();
        Authority::of(Resolved { token: Some(token), policies })
    }

    #[test]
    fn authority_by_kind_of_caller() {
        let management = Authority::of(Resolved {
            token: Some(AclToken { token_type: MANAGEMENT.into(), ..AclToken::default() }),
            // A management token's policies are never consulted.
            policies: vec![AclPolicy { rules: r#"operator { policy = "deny" }"#.into(), ..AclPolicy::default() }],
        });
        let anonymous = Authority::of(Resolved { token: None, policies: vec![] });
        let op_read = client(&[r#"operator { policy = "read" }"#]);
        let broken = client(&["operator {"]);
        let unknown = Authority::Unresolved(Unresolved::NotFound);
        let read = Requirement::OperatorRead;
        // Who, whether it may read the operator settings, whether it manages, whether it is known.
        type Case<'a> = (&'a str, &'a Authority, bool, bool, Result<(), Denied>);
        let cases: [Case<'_>; 6] = [
            ("unrestricted", &Authority::Unrestricted, true, true, Ok(())),
            ("management", &management, true, true, Ok(())),
            ("anonymous", &anonymous, false, false, Ok(())),
            ("operator read", &op_read, true, false, Ok(())),
            ("unparsable policy grants nothing", &broken, false, false, Ok(())),
            ("unknown token", &unknown, false, false, Err(Denied::Permission)),
        ];
        for (name, who, reads, manages, known) in cases {
            assert_eq!(who.allows(&read), reads, "{name}: operator read");
            assert_eq!(who.require(&Requirement::Management).is_ok(), manages, "{name}: management");
            assert_eq!(who.is_management(), manages, "{name}");
            assert_eq!(who.known(), known, "{name}: known");
            let only_server = matches!(who, Authority::Unrestricted);
            assert_eq!(who.server_only().is_ok(), only_server, "{name}: server duty");
        }
        assert_eq!(unknown.token().unwrap_err(), Denied::Unresolved(Unresolved::NotFound));
        let expired = Authority::Unresolved(Unresolved::Expired);
        assert_eq!(expired.token().unwrap_err(), Denied::Unresolved(Unresolved::Expired));
        assert!(anonymous.token().unwrap().is_none());
        assert_eq!(op_read.token().unwrap().map(|t| t.policies.clone()), Some(vec!["p".to_string()]));
    }

    #[test]
    fn a_caller_never_shows_its_secret() {
        let secret = "6e5c3c47-4a7c-4b60-9f3e-0e0b2a1c7d11";
        assert_eq!(format!("{:?}", Caller::token(secret)), "Caller::Token(<redacted>)");
        assert_eq!(format!("{:?}", Caller::default()), "Caller::Anonymous");
        assert_eq!(Caller::default(), Caller::anonymous());
    }
}
