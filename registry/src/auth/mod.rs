//! Authentication and authorization.
//!
//! - [`authn`]: who is calling. HTTP Basic against Argon2id password hashes
//!   (what Confluent's clients send with `basic.auth.user.info`), bearer API
//!   tokens (stored as SHA-256 hashes, with a name and an optional expiry),
//!   bearer JWTs verified against a JWKS ([`jwt`]), and client certificates
//!   (mTLS, the certificate's common name).
//! - This module: what they may do. Roles `read` < `write` < `admin` are
//!   granted to principals on subject patterns (globs) in contexts.
//! - [`routes`]: the one table that says which role each route needs, on
//!   which subject.
//!
//! With no authentication configured every caller is the anonymous admin, as
//! before; `stele serve` then refuses to listen beyond loopback unless
//! `--allow-anonymous` says so.

pub mod authn;
pub mod jwt;
pub mod routes;

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use wildmatch::WildMatch;

use crate::subject::Subject;

/// A role, each including the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Read,
    Write,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Write => "write",
            Role::Admin => "admin",
        }
    }

    /// Confluent's operation names, for denial messages.
    pub fn operation(self) -> &'static str {
        match self {
            Role::Read => "Read",
            Role::Write => "Write",
            Role::Admin => "Admin",
        }
    }
}

/// A user for HTTP Basic: the password as an Argon2id PHC string
/// (`stele auth hash-password` prints one).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UserEntry {
    pub name: String,
    pub password_hash: String,
}

/// An API token, sent as `Authorization: Bearer <token>`: stored as the
/// lowercase hex SHA-256 of the token (`stele auth create-token` prints both).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    pub name: String,
    pub sha256: String,
    /// Seconds since the epoch, or an RFC 3339 date-time string.
    #[serde(default, deserialize_with = "expiry")]
    pub expires_at: Option<i64>,
}

fn expiry<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Seconds(i64),
        Text(String),
    }
    match Option::<Raw>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Raw::Seconds(seconds)) => Ok(Some(seconds)),
        Some(Raw::Text(text)) => text.parse::<jiff::Timestamp>().map(|t| Some(t.as_second())).map_err(|_| {
            serde::de::Error::custom(format!(
                "'{text}' is not an RFC 3339 date-time (e.g. \"2027-01-31T00:00:00Z\") nor seconds since the epoch"
            ))
        }),
    }
}

/// Where the JWKS comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    File(PathBuf),
    Url(String),
}

/// Bearer JWTs from an OIDC provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtSettings {
    pub issuer: String,
    pub audience: String,
    pub jwks: JwksSource,
    /// The claim holding the principal's name (default `sub`).
    pub principal_claim: String,
    /// The claim holding roles or groups, granted as `group:<name>` (default `groups`).
    pub groups_claim: String,
    /// How long a fetched JWKS is used before it is fetched again.
    pub refresh: Duration,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
}

/// A grant: `role` to `principal` on subjects matching `subjects` in contexts matching `contexts`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// `user:NAME`, `token:NAME`, `jwt:SUBJECT`, `group:NAME`, `cert:COMMON_NAME`,
    /// `anonymous`, or `*` (every authenticated principal).
    pub principal: String,
    pub role: Role,
    /// Globs (`*`, `?`) over subject names without their context; default every subject.
    #[serde(default = "everything")]
    pub subjects: Vec<String>,
    /// Globs over context names (`.` is the default context); default every context.
    #[serde(default = "everything")]
    pub contexts: Vec<String>,
}

fn everything() -> Vec<String> {
    vec!["*".to_owned()]
}

/// Who may call, and what each principal may do.
#[derive(Debug, Clone, Default)]
pub struct AuthSettings {
    pub users: Vec<UserEntry>,
    pub tokens: Vec<TokenEntry>,
    pub jwt: Option<JwtSettings>,
    /// Accept a client certificate's common name as a principal (needs TLS with a client CA).
    pub mtls: bool,
    pub grants: Vec<Grant>,
    /// The realm of `WWW-Authenticate`.
    pub realm: Option<String>,
}

impl AuthSettings {
    /// Whether any way to authenticate is configured; without one, every
    /// caller is the anonymous admin.
    pub fn enabled(&self) -> bool {
        !self.users.is_empty() || !self.tokens.is_empty() || self.jwt.is_some() || self.mtls
    }
}

/// How a principal proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Anonymous,
    Basic,
    Token,
    Jwt,
    Certificate,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// `user:alice`, `token:ci`, `jwt:sub`, `cert:ci-bot` or `anonymous`.
    pub name: String,
    pub method: Method,
    /// JWT groups, as `group:<name>`.
    pub groups: Vec<String>,
}

impl Principal {
    pub fn anonymous() -> Principal {
        Principal { name: "anonymous".into(), method: Method::Anonymous, groups: Vec::new() }
    }

    fn identities(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.name.as_str()).chain(self.groups.iter().map(String::as_str))
    }
}

/// Whether a subject pattern matches a subject (or prefix pattern semantics via `*`).
fn matches(pattern: &str, text: &str) -> bool {
    pattern == "*" || WildMatch::new(pattern).matches(text)
}

/// What one principal may do, decided from the grants.
#[derive(Debug, Clone)]
pub struct Access {
    pub principal: Principal,
    grants: Vec<Grant>,
    /// No authentication configured: everything is allowed.
    open: bool,
}

impl Access {
    /// Everything allowed: authentication is not configured.
    pub fn open() -> Access {
        Access { principal: Principal::anonymous(), grants: Vec::new(), open: true }
    }

    pub fn new(principal: Principal, all_grants: &[Grant]) -> Access {
        let grants = all_grants
            .iter()
            .filter(|g| {
                principal.identities().any(|id| id == g.principal)
                    || (g.principal == "*" && principal.method != Method::Anonymous)
            })
            .cloned()
            .collect();
        Access { principal, grants, open: false }
    }

    /// Whether the principal holds `role` (or more) on the qualified subject.
    pub fn allows(&self, role: Role, qualified_subject: &str) -> bool {
        if self.open {
            return true;
        }
        let subject = Subject::parse(qualified_subject);
        self.grants.iter().any(|g| {
            g.role >= role
                && g.contexts.iter().any(|c| matches(c, &subject.context))
                && g.subjects.iter().any(|s| matches(s, &subject.name))
        })
    }

    /// Whether the principal holds `role` on every subject of every context.
    pub fn allows_everything(&self, role: Role) -> bool {
        self.open
            || self
                .grants
                .iter()
                .any(|g| g.role >= role && g.contexts.iter().any(|c| c == "*") && g.subjects.iter().any(|s| s == "*"))
    }

    /// Whether the principal holds `role` on some subject somewhere.
    pub fn allows_somewhere(&self, role: Role) -> bool {
        self.open || self.grants.iter().any(|g| g.role >= role)
    }

    /// Whether the principal may read anything in `context`.
    pub fn reads_context(&self, context: &str) -> bool {
        self.open || self.grants.iter().any(|g| g.contexts.iter().any(|c| matches(c, context)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(principal: &str, role: Role, subjects: &[&str], contexts: &[&str]) -> Grant {
        Grant {
            principal: principal.into(),
            role,
            subjects: subjects.iter().map(|s| (*s).to_owned()).collect(),
            contexts: contexts.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn grants_match_principal_groups_subject_globs_and_contexts() {
        let grants = vec![
            grant("user:alice", Role::Write, &["orders-*"], &["."]),
            grant("group:platform", Role::Admin, &["*"], &["*"]),
            grant("*", Role::Read, &["public-*"], &["*"]),
        ];
        let alice =
            Access::new(Principal { name: "user:alice".into(), method: Method::Basic, groups: vec![] }, &grants);
        assert!(alice.allows(Role::Write, "orders-value"));
        assert!(alice.allows(Role::Read, "orders-value"), "write includes read");
        assert!(!alice.allows(Role::Admin, "orders-value"));
        assert!(!alice.allows(Role::Read, "payments-value"));
        assert!(!alice.allows(Role::Read, ":.staging:orders-value"), "only the default context");
        assert!(alice.allows(Role::Read, "public-events"), "* grants every authenticated principal");
        assert!(!alice.allows_everything(Role::Read));
        let ops = Access::new(
            Principal { name: "jwt:bob".into(), method: Method::Jwt, groups: vec!["group:platform".into()] },
            &grants,
        );
        assert!(ops.allows(Role::Admin, ":.staging:anything") && ops.allows_everything(Role::Admin));
        let nobody = Access::new(Principal::anonymous(), &grants);
        assert!(!nobody.allows(Role::Read, "public-events"), "* means authenticated");
        assert!(Access::open().allows(Role::Admin, "x"));
    }

    #[test]
    fn expiry_reads_seconds_and_dates() {
        let entry: TokenEntry =
            serde_json::from_str(r#"{"name": "ci", "sha256": "ab", "expires_at": "1970-01-02T00:00:00Z"}"#)
                .expect("date");
        assert_eq!(entry.expires_at, Some(86_400));
        let entry: TokenEntry =
            serde_json::from_str(r#"{"name": "ci", "sha256": "ab", "expires_at": "2000-03-01T00:00:00+01:00"}"#)
                .expect("offset");
        assert_eq!(entry.expires_at, Some(951_865_200));
        let entry: TokenEntry =
            serde_json::from_str(r#"{"name": "ci", "sha256": "ab", "expires_at": 5}"#).expect("seconds");
        assert_eq!(entry.expires_at, Some(5));
        assert!(serde_json::from_str::<TokenEntry>(r#"{"name": "ci", "sha256": "ab", "expires_at": "soon"}"#).is_err());
    }
}
