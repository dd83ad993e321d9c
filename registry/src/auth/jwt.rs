//! Bearer JWTs from an OIDC provider, verified against its JWKS (a file or a
//! URL), which is cached and fetched again after `refresh`, or sooner (at
//! most every [`MIN_REFETCH`]) when a token names a key it does not hold.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::Value;

use super::authn::Refused;
use super::{JwksSource, JwtSettings, Method, Principal};

/// The shortest time between two fetches caused by unknown key ids.
const MIN_REFETCH: Duration = Duration::from_secs(30);

struct Keys {
    set: JwkSet,
    fetched: Instant,
}

pub struct JwtVerifier {
    settings: JwtSettings,
    keys: tokio::sync::RwLock<Option<Keys>>,
    http: reqwest::Client,
}

/// Only asymmetric algorithms: a JWKS publishes public keys, and accepting
/// HMAC here would let anyone holding a public key forge tokens.
fn asymmetric(algorithm: Algorithm) -> bool {
    !matches!(algorithm, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

impl JwtVerifier {
    pub fn new(settings: JwtSettings) -> Result<JwtVerifier, String> {
        if settings.issuer.is_empty() || settings.audience.is_empty() {
            return Err("auth.jwt: issuer and audience are required".into());
        }
        if let JwksSource::File(path) = &settings.jwks {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("auth.jwt.jwks_file: cannot read {}: {e}", path.display()))?;
            serde_json::from_str::<JwkSet>(&text)
                .map_err(|e| format!("auth.jwt.jwks_file: {} is not a JWKS: {e}", path.display()))?;
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("auth.jwt: cannot build an HTTP client: {e}"))?;
        Ok(JwtVerifier { settings, keys: tokio::sync::RwLock::new(None), http })
    }

    async fn fetch(&self) -> Result<JwkSet, String> {
        let text = match &self.settings.jwks {
            JwksSource::File(path) => tokio::fs::read_to_string(path)
                .await
                .map_err(|e| format!("cannot read the JWKS {}: {e}", path.display()))?,
            JwksSource::Url(url) => self
                .http
                .get(url)
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .map_err(|e| format!("cannot fetch the JWKS from {url}: {e}"))?
                .text()
                .await
                .map_err(|e| format!("cannot read the JWKS from {url}: {e}"))?,
        };
        serde_json::from_str(&text).map_err(|e| format!("the JWKS is not valid: {e}"))
    }

    /// The key for `kid`, fetching the set when it is stale or lacks the key.
    async fn key(&self, kid: Option<&str>) -> Result<jsonwebtoken::jwk::Jwk, Refused> {
        let find = |set: &JwkSet| match kid {
            Some(kid) => set.find(kid).cloned(),
            None if set.keys.len() == 1 => set.keys.first().cloned(),
            None => None,
        };
        {
            let keys = self.keys.read().await;
            if let Some(keys) = keys.as_ref()
                && keys.fetched.elapsed() < self.settings.refresh
                && let Some(key) = find(&keys.set)
            {
                return Ok(key);
            }
        }
        let mut keys = self.keys.write().await;
        let stale = keys.as_ref().is_none_or(|k| k.fetched.elapsed() >= self.settings.refresh);
        let may_refetch = keys.as_ref().is_none_or(|k| k.fetched.elapsed() >= MIN_REFETCH);
        if stale || may_refetch {
            match self.fetch().await {
                Ok(set) => *keys = Some(Keys { set, fetched: Instant::now() }),
                Err(error) => tracing::warn!(error, "the JWKS could not be refreshed; keeping the keys held"),
            }
        }
        keys.as_ref()
            .and_then(|k| find(&k.set))
            .ok_or_else(|| Refused(format!("no key '{}' in the JWKS", kid.unwrap_or("(none)"))))
    }

    pub async fn verify(&self, token: &str) -> Result<Principal, Refused> {
        let header = decode_header(token).map_err(|e| Refused(format!("malformed JWT: {e}")))?;
        if !asymmetric(header.alg) {
            return Err(Refused(format!("JWT algorithm {:?} is not accepted", header.alg)));
        }
        let jwk = self.key(header.kid.as_deref()).await?;
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| Refused(format!("unusable JWKS key: {e}")))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = self.settings.leeway.as_secs();
        let claims: Value =
            decode::<Value>(token, &key, &validation).map_err(|e| Refused(format!("JWT refused: {e}")))?.claims;
        let name = claims
            .get(&self.settings.principal_claim)
            .and_then(Value::as_str)
            .ok_or_else(|| Refused(format!("the JWT has no '{}' claim", self.settings.principal_claim)))?;
        let groups = match claims.get(&self.settings.groups_claim) {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(|g| format!("group:{g}")).collect(),
            Some(Value::String(text)) => text.split_whitespace().map(|g| format!("group:{g}")).collect(),
            _ => Vec::new(),
        };
        Ok(Principal { name: format!("jwt:{name}"), method: Method::Jwt, groups })
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    use super::*;

    /// An ES256 key pair, its JWKS (written to a file) and a verifier over it.
    fn setup() -> (EncodingKey, JwtVerifier, tempfile::TempDir) {
        let (key, jwks) = keys();
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("jwks.json");
        std::fs::write(&path, jwks.to_string()).expect("write");
        (key, verifier(JwksSource::File(path)), dir)
    }

    fn verifier(jwks: JwksSource) -> JwtVerifier {
        JwtVerifier::new(JwtSettings {
            issuer: "https://idp.test/".into(),
            audience: "stele".into(),
            jwks,
            principal_claim: "sub".into(),
            groups_claim: "groups".into(),
            refresh: Duration::from_mins(5),
            leeway: Duration::from_secs(5),
        })
        .expect("verifier")
    }

    /// An ES256 signing key and the JWKS that publishes its public half.
    fn keys() -> (EncodingKey, serde_json::Value) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let point = key.public_key_raw();
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let jwks = json!({"keys": [{
            "kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
            "x": b64(&point[1..33]), "y": b64(&point[33..65])
        }]});
        (EncodingKey::from_ec_pem(key.serialize_pem().as_bytes()).expect("encoding key"), jwks)
    }

    fn token(key: &EncodingKey, claims: &serde_json::Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("k1".into());
        encode(&header, claims, key).expect("token")
    }

    #[tokio::test]
    async fn tokens_are_verified_against_the_jwks_with_issuer_audience_and_expiry() {
        let (key, verifier, _dir) = setup();
        let now = crate::store::now_millis() / 1000;
        let good = json!({"sub": "alice", "iss": "https://idp.test/", "aud": "stele", "exp": now + 300, "groups": ["platform"]});
        let principal = verifier.verify(&token(&key, &good)).await.expect("valid");
        assert_eq!(principal.name, "jwt:alice");
        assert_eq!(principal.groups, vec!["group:platform"]);

        for (what, claims) in [
            ("expired", json!({"sub": "a", "iss": "https://idp.test/", "aud": "stele", "exp": now - 600})),
            ("wrong issuer", json!({"sub": "a", "iss": "https://evil.test/", "aud": "stele", "exp": now + 300})),
            ("wrong audience", json!({"sub": "a", "iss": "https://idp.test/", "aud": "other", "exp": now + 300})),
            ("no expiry", json!({"sub": "a", "iss": "https://idp.test/", "aud": "stele"})),
        ] {
            assert!(verifier.verify(&token(&key, &claims)).await.is_err(), "{what} is refused");
        }
        // Another key, and HMAC signed with the public key's text: both refused.
        let (stranger, _, _dir2) = setup();
        assert!(verifier.verify(&token(&stranger, &good)).await.is_err(), "a foreign signature is refused");
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        let forged = encode(&header, &good, &EncodingKey::from_secret(b"k1").expect("key")).expect("token");
        let refused = verifier.verify(&forged).await.expect_err("HS256 is refused");
        assert!(refused.0.contains("not accepted"), "{refused:?}");
    }

    #[tokio::test]
    async fn the_jwks_is_fetched_from_its_url_once_and_cached() {
        let (key, jwks) = keys();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let fetches = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = std::sync::Arc::clone(&fetches);
        let app = axum::Router::new().route(
            "/jwks.json",
            axum::routing::get(move || {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let body = jwks.to_string();
                async move { body }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        let verifier = verifier(JwksSource::Url(format!("http://{addr}/jwks.json")));
        let now = crate::store::now_millis() / 1000;
        let claims = json!({"sub": "bob", "iss": "https://idp.test/", "aud": "stele", "exp": now + 300});
        for _ in 0..3 {
            assert_eq!(verifier.verify(&token(&key, &claims)).await.expect("valid").name, "jwt:bob");
        }
        assert_eq!(fetches.load(std::sync::atomic::Ordering::SeqCst), 1, "fetched once, then cached");
    }
}
