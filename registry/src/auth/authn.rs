//! Who is calling: credentials from the `Authorization` header or the TLS
//! client certificate, checked against the configuration.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use argon2::{Argon2, PasswordHash, PasswordVerifier};
use axum::http::{HeaderMap, header};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::jwt::JwtVerifier;
use super::{AuthSettings, Method, Principal, TokenEntry};
use crate::tls::PeerIdentity;

/// Why credentials were refused; the reason is logged and audited, never the credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

/// How long a verified Basic password is trusted without hashing it again
/// (Argon2id costs tens of milliseconds by design).
const VERIFIED_FOR: Duration = Duration::from_mins(5);
const VERIFIED_MAX: usize = 10_000;

pub struct Authenticator {
    users: HashMap<String, String>,
    /// By the SHA-256 of the token.
    tokens: HashMap<[u8; 32], TokenEntry>,
    jwt: Option<JwtVerifier>,
    mtls: bool,
    realm: String,
    /// (user, SHA-256 of the password) verified recently, until when.
    verified: parking_lot::Mutex<HashMap<(String, [u8; 32]), Instant>>,
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// The lowercase hex SHA-256 of a token, as the configuration stores it.
pub fn token_hash(token: &str) -> String {
    hex(&sha256(token.as_bytes()))
}

/// An Argon2id PHC string for a password (`stele auth hash-password`).
pub fn hash_password(password: &str) -> Result<String, String> {
    use argon2::PasswordHasher;
    use argon2::password_hash::SaltString;
    use argon2::password_hash::rand_core::OsRng;
    Argon2::default()
        .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
        .map(|hash| hash.to_string())
        .map_err(|e| format!("hashing failed: {e}"))
}

/// A new random API token: 32 bytes from the operating system, as hex.
pub fn new_token() -> String {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    format!("stl_{}", hex(&bytes))
}

fn unhex(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

impl Authenticator {
    /// Checks the configuration: every password hash is an Argon2id PHC
    /// string, every token hash 64 hex digits, names unique. Errors name the entry.
    pub fn new(settings: &AuthSettings) -> Result<Authenticator, String> {
        let mut users = HashMap::new();
        for (i, user) in settings.users.iter().enumerate() {
            let hash = PasswordHash::new(&user.password_hash)
                .map_err(|e| format!("auth.users[{i}] ({}): password_hash is not a PHC string: {e}", user.name))?;
            if hash.algorithm.as_str() != "argon2id" {
                return Err(format!(
                    "auth.users[{i}] ({}): password_hash must be Argon2id (stele auth hash-password prints one), not {}",
                    user.name, hash.algorithm
                ));
            }
            if users.insert(user.name.clone(), user.password_hash.clone()).is_some() {
                return Err(format!("auth.users[{i}]: user '{}' is listed twice", user.name));
            }
        }
        let mut tokens = HashMap::new();
        for (i, token) in settings.tokens.iter().enumerate() {
            let hash = unhex(&token.sha256.to_ascii_lowercase()).ok_or_else(|| {
                format!(
                    "auth.tokens[{i}] ({}): sha256 must be 64 hex digits (stele auth create-token prints it)",
                    token.name
                )
            })?;
            if tokens.insert(hash, token.clone()).is_some() {
                return Err(format!("auth.tokens[{i}] ({}): the same token is listed twice", token.name));
            }
        }
        let jwt = settings.jwt.clone().map(JwtVerifier::new).transpose()?;
        Ok(Authenticator {
            users,
            tokens,
            jwt,
            mtls: settings.mtls,
            realm: settings.realm.clone().unwrap_or_else(|| "stele".into()),
            verified: parking_lot::Mutex::new(HashMap::new()),
        })
    }

    /// `WWW-Authenticate` of a 401: the schemes this server accepts.
    pub fn challenge(&self) -> String {
        let mut schemes = Vec::new();
        if !self.users.is_empty() {
            schemes.push(format!("Basic realm=\"{}\", charset=\"UTF-8\"", self.realm));
        }
        if !self.tokens.is_empty() || self.jwt.is_some() {
            schemes.push(format!("Bearer realm=\"{}\"", self.realm));
        }
        if schemes.is_empty() {
            schemes.push(format!("Basic realm=\"{}\"", self.realm));
        }
        schemes.join(", ")
    }

    /// The caller: `Ok(None)` when it presented nothing (anonymous), `Err`
    /// when it presented credentials that do not hold.
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        peer: Option<&PeerIdentity>,
    ) -> Result<Option<Principal>, Refused> {
        if let Some(value) = headers.get(header::AUTHORIZATION) {
            let value = value.to_str().map_err(|_| Refused("the Authorization header is not text".into()))?;
            let (scheme, credentials) = value.trim().split_once(' ').unwrap_or((value, ""));
            let credentials = credentials.trim();
            return match scheme.to_ascii_lowercase().as_str() {
                "basic" => self.basic(credentials).await.map(Some),
                "bearer" => self.bearer(credentials).await.map(Some),
                _ => Err(Refused(format!("unsupported authorization scheme '{scheme}'"))),
            };
        }
        if self.mtls
            && let Some(name) = peer.and_then(|p| p.common_name.clone())
        {
            return Ok(Some(Principal {
                name: format!("cert:{name}"),
                method: Method::Certificate,
                groups: Vec::new(),
            }));
        }
        Ok(None)
    }

    async fn basic(&self, credentials: &str) -> Result<Principal, Refused> {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credentials)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| Refused("malformed Basic credentials".into()))?;
        let (user, password) = decoded.split_once(':').ok_or_else(|| Refused("malformed Basic credentials".into()))?;
        let principal = Principal { name: format!("user:{user}"), method: Method::Basic, groups: Vec::new() };
        let key = (user.to_owned(), sha256(password.as_bytes()));
        if self.verified.lock().get(&key).is_some_and(|until| *until > Instant::now()) {
            return Ok(principal);
        }
        let Some(hash) = self.users.get(user).cloned() else {
            return Err(Refused(format!("unknown user '{user}'")));
        };
        let password = password.to_owned();
        let valid = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash)
                .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await
        .unwrap_or(false);
        if !valid {
            return Err(Refused(format!("wrong password for user '{user}'")));
        }
        let mut verified = self.verified.lock();
        if verified.len() >= VERIFIED_MAX {
            let now = Instant::now();
            verified.retain(|_, until| *until > now);
            if verified.len() >= VERIFIED_MAX {
                verified.clear();
            }
        }
        verified.insert(key, Instant::now() + VERIFIED_FOR);
        Ok(principal)
    }

    async fn bearer(&self, token: &str) -> Result<Principal, Refused> {
        if token.is_empty() {
            return Err(Refused("an empty bearer token".into()));
        }
        if let Some(entry) = self.tokens.get(&sha256(token.as_bytes())) {
            if entry.expires_at.is_some_and(|at| at <= crate::store::now_millis() / 1000) {
                return Err(Refused(format!("token '{}' has expired", entry.name)));
            }
            return Ok(Principal { name: format!("token:{}", entry.name), method: Method::Token, groups: Vec::new() });
        }
        match &self.jwt {
            Some(jwt) if token.matches('.').count() == 2 => jwt.verify(token).await,
            _ => Err(Refused("unknown bearer token".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::UserEntry;

    fn settings() -> AuthSettings {
        let hash = hash_password("s3cret").expect("hash");
        AuthSettings {
            users: vec![UserEntry { name: "alice".into(), password_hash: hash }],
            tokens: vec![
                TokenEntry { name: "ci".into(), sha256: token_hash("tok-1"), expires_at: None },
                TokenEntry { name: "old".into(), sha256: token_hash("tok-2"), expires_at: Some(1) },
            ],
            ..AuthSettings::default()
        }
    }

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value.parse().expect("header"));
        headers
    }

    #[tokio::test]
    async fn basic_tokens_and_their_failures() {
        let auth = Authenticator::new(&settings()).expect("valid settings");
        let basic = |user: &str, password: &str| {
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
        };
        let alice = auth.authenticate(&with(&basic("alice", "s3cret")), None).await.expect("ok").expect("principal");
        assert_eq!(alice.name, "user:alice");
        // The second time comes from the verified cache, and a wrong password still fails.
        assert!(auth.authenticate(&with(&basic("alice", "s3cret")), None).await.is_ok());
        assert!(auth.authenticate(&with(&basic("alice", "wrong")), None).await.is_err());
        assert!(auth.authenticate(&with(&basic("bob", "s3cret")), None).await.is_err());
        assert!(auth.authenticate(&with("Basic !!!"), None).await.is_err());
        let ci = auth.authenticate(&with("Bearer tok-1"), None).await.expect("ok").expect("principal");
        assert_eq!(ci.name, "token:ci");
        let expired = auth.authenticate(&with("Bearer tok-2"), None).await.expect_err("expired");
        assert!(expired.0.contains("expired"), "{expired:?}");
        assert!(auth.authenticate(&with("Bearer nope"), None).await.is_err());
        assert_eq!(auth.authenticate(&HeaderMap::new(), None).await, Ok(None));
        assert!(auth.challenge().contains("Basic realm=\"stele\"") && auth.challenge().contains("Bearer"));
    }

    #[test]
    fn configuration_errors_name_the_entry() {
        let mut bad = settings();
        bad.users[0].password_hash = "plain".into();
        let error = Authenticator::new(&bad).err().expect("refused");
        assert!(error.contains("auth.users[0] (alice)"), "{error}");
        let mut bad = settings();
        bad.tokens[0].sha256 = "abc".into();
        let error = Authenticator::new(&bad).err().expect("refused");
        assert!(error.contains("auth.tokens[0] (ci)"), "{error}");
    }
}
