//! Credentials and tokens of the reference API: argon2id password hashes, HS256 JWT access
//! tokens, opaque refresh tokens, SHA-256 token hashes, and the signup input rules.

use std::str::FromStr;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use jsonwebtoken::{decode, encode, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Iterations.
    pub t: u32,
    /// Parallelism.
    pub p: u32,
}

impl HashCost {
    /// `fast`: m=1024 KiB, t=1, p=1 — about a millisecond; for load tests, where the
    /// hash would otherwise dominate every signup and login. Not for production.
    pub const FAST: HashCost = HashCost {
        m_kib: 1024,
        t: 1,
        p: 1,
    };
    /// `owasp`: m=19456 KiB (19 MiB), t=2, p=1 — the OWASP Password Storage Cheat Sheet's
    /// first recommended argon2id configuration.
    pub const OWASP: HashCost = HashCost {
        m_kib: 19456,
        t: 2,
        p: 1,
    };

    fn argon2(self) -> Argon2<'static> {
        // Parameters are validated in `from_str`; the constants are valid.
        let params = Params::new(self.m_kib, self.t, self.p, None).unwrap_or_default();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }
}

impl FromStr for HashCost {
    type Err = String;

    /// `fast`, `owasp`, or `m=KIB,t=N,p=N`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "fast" => return Ok(HashCost::FAST),
            "owasp" => return Ok(HashCost::OWASP),
            _ => {}
        }
        let mut cost = HashCost::FAST;
        for part in s.split(',') {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("expected fast, owasp or m=KIB,t=N,p=N, got '{s}'"))?;
            let v: u32 = v
                .trim()
                .parse()
                .map_err(|_| format!("'{}' is not a whole number in '{s}'", v.trim()))?;
            match k.trim() {
                "m" => cost.m_kib = v,
                "t" => cost.t = v,
                "p" => cost.p = v,
                other => return Err(format!("unknown argon2 parameter '{other}' in '{s}'")),
            }
        }
        crate::limits::hash_cost(s, cost.m_kib, cost.t, cost.p)?;
        Params::new(cost.m_kib, cost.t, cost.p, None)
            .map_err(|e| format!("invalid argon2 parameters '{s}': {e}"))?;
        Ok(cost)
    }
}

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str, cost: HashCost) -> Result<String, String> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    cost.argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Verifies a password against a PHC string (the parameters come from the string).
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Raw SHA-256 of a token: what the in-process token cache keys on (32 bytes, no allocation).
pub type TokenDigest = [u8; 32];

/// The SHA-256 digest of a token.
pub fn token_digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

/// Lower-case hex SHA-256 of a token: what the database stores (and the Redis tier keys on).
pub fn token_hash(token: &str) -> String {
    hex::encode(token_digest(token))
}

/// The digest behind a stored hex token hash (`None` for anything that is not 64 hex digits).
pub fn digest_from_hex(hash: &str) -> Option<TokenDigest> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hash, &mut out).ok()?;
    Some(out)
}

/// A random opaque token (32 bytes, base64url).
pub fn random_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// User id.
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    /// Random id, so two tokens issued in the same second differ.
    pub jti: String,
}

/// Signs and verifies HS256 access tokens.
#[derive(Clone)]
pub struct TokenSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenSigner {
    pub fn new(secret: &[u8]) -> TokenSigner {
        let mut validation = Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        TokenSigner {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// A signer with a fresh random 256-bit secret.
    pub fn random() -> TokenSigner {
        let mut secret = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut secret);
        TokenSigner::new(&secret)
    }

    pub fn issue(&self, claims: &Claims) -> String {
        // HS256 signing of serializable claims cannot fail.
        encode(&Header::default(), claims, &self.encoding).unwrap_or_default()
    }

    /// Checks signature, algorithm and expiry; `None` for anything invalid.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|d| d.claims)
    }
}

/// Longest email accepted (RFC 5321: a forward path holds at most 254 characters of address).
pub const EMAIL_MAX_LEN: usize = 254;

/// Signup email rule; `Err` names the rule that failed.
///
/// The address is parsed by the `email_address` crate (RFC 5322 `addr-spec`) with no display
/// name, no domain literal (`a@[10.0.0.1]`) and at least two domain labels (`a@localhost` is
/// refused; any TLD is fine, `.invalid` included) whose labels are host-name labels (letters,
/// digits, `-`; no `_`). On top of the RFC, a reference API keeps
/// what mail providers accept: an unquoted local part (`"a b"@x.co` is refused) that begins
/// and ends with a letter or digit (`o'brien@x.co` and `lt-run-7@x.co` pass,
/// `a'--@x.co` and `-a@x.co` do not).
pub fn check_email(email: &str) -> Result<(), &'static str> {
    use email_address::{EmailAddress, Error, Options};
    if email.len() > EMAIL_MAX_LEN {
        return Err("email must be at most 254 characters");
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("email must not contain whitespace");
    }
    let (local, domain) = email.split_once('@').ok_or("email must contain '@'")?;
    if local.is_empty() || domain.contains('@') {
        return Err("email must have exactly one '@' with a local part before it");
    }
    if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
        return Err("email domain must contain a dot, e.g. example.com");
    }
    let options = Options::default()
        .with_required_tld()
        .without_display_text()
        .without_domain_literal();
    EmailAddress::parse_with_options(email, options).map_err(|e| match e {
        Error::LocalPartTooLong => "email local part must be at most 64 characters",
        Error::DomainTooLong | Error::SubDomainTooLong => {
            "email domain must be at most 254 characters, each label at most 63"
        }
        Error::SubDomainEmpty | Error::DomainInvalidSeparator => {
            "email domain must not have an empty label, e.g. a..b"
        }
        Error::DomainTooFew => "email domain must contain a dot, e.g. example.com",
        _ => {
            "email is not a valid address (RFC 5322: letters, digits and !#$%&'*+/=?^_`{|}~- \
              in dot-separated parts before '@', a host name after it)"
        }
    })?;
    // RFC 5322 lets a domain label hold any atext (`exa_mple`); a host name does not.
    if !domain
        .chars()
        .all(|c| c == '.' || c == '-' || c.is_alphanumeric())
    {
        return Err("email domain must be a host name: letters, digits and '-' between dots");
    }
    let alnum = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    if !alnum(local.chars().next()) || !alnum(local.chars().last()) {
        return Err("email local part must begin and end with a letter or digit");
    }
    Ok(())
}

/// Signup password rule; `Err` names the rule that failed.
pub fn check_password(password: &str) -> Result<(), &'static str> {
    let n = password.chars().count();
    if n < 8 {
        return Err("password must be at least 8 characters");
    }
    if n > 128 {
        return Err("password must be at most 128 characters");
    }
    if !password.chars().any(|c| c.is_alphabetic()) {
        return Err("password must contain a letter");
    }
    if !password.chars().any(|c| c.is_ascii_digit()) {
        return Err("password must contain a digit");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_cost_parses_profiles_and_custom() {
        assert_eq!("fast".parse::<HashCost>().unwrap(), HashCost::FAST);
        assert_eq!("owasp".parse::<HashCost>().unwrap(), HashCost::OWASP);
        let c: HashCost = "m=4096,t=3,p=1".parse().unwrap();
        assert_eq!((c.m_kib, c.t, c.p), (4096, 3, 1));
        assert!(
            "m=1,t=1,p=1".parse::<HashCost>().is_err(),
            "m below argon2 minimum"
        );
        assert!("x=1".parse::<HashCost>().is_err());
        assert!("slow".parse::<HashCost>().is_err());
    }

    #[test]
    fn password_roundtrip_and_wrong_password() {
        let phc = hash_password("correct horse 1", HashCost::FAST).unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse 1", &phc));
        assert!(!verify_password("correct horse 2", &phc));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn tokens_verify_only_with_the_right_key_and_before_expiry() {
        let a = TokenSigner::new(b"secret-a");
        let b = TokenSigner::new(b"secret-b");
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = Claims {
            sub: "7".into(),
            iat: now,
            exp: now + 60,
            jti: "j".into(),
        };
        let t = a.issue(&claims);
        assert_eq!(a.verify(&t), Some(claims.clone()));
        assert_eq!(b.verify(&t), None, "wrong key");
        let expired = a.issue(&Claims {
            exp: now - 5,
            ..claims
        });
        assert_eq!(a.verify(&expired), None, "expired");
        assert_eq!(a.verify("abc.def.ghi"), None);
    }

    #[test]
    fn input_rules_name_the_failing_rule() {
        assert!(check_email("a@b.co").is_ok());
        assert_eq!(check_email("ab.co"), Err("email must contain '@'"));
        assert!(check_email("a@b").unwrap_err().contains("dot"));
        assert!(check_email("a b@c.de").unwrap_err().contains("whitespace"));
        assert!(check_password("short1").unwrap_err().contains("at least 8"));
        assert!(check_password("longenough").unwrap_err().contains("digit"));
        assert!(check_password("12345678").unwrap_err().contains("letter"));
        assert!(check_password("longenough1").is_ok());
        assert_eq!(token_hash("abc").len(), 64);
        assert_ne!(random_token(), random_token());
    }

    #[test]
    fn emails_are_parsed_not_pattern_matched() {
        // What the harness, the seeding and the interop contracts generate, and real shapes.
        for ok in [
            "lt-0123456789-7@example.com",
            "lt-my_run-42@loadtest.invalid",
            "seed-12@seed.loadtest.invalid",
            "a+b@x.co",
            "o'brien@example.com",
            "first.last@sub.example.org",
            "x@y.co",
            "\u{e9}l\u{e8}ve@\u{e9}cole.fr",
        ] {
            assert_eq!(check_email(ok), Ok(()), "{ok}");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        let long_label = format!("a@{}.com", "b".repeat(64));
        for (bad, why) in [
            ("a'--@example.com", "begin and end"),
            ("-a@example.com", "begin and end"),
            ("'or'1'='1@example.com", "begin and end"),
            ("\"a b\"@example.com", "whitespace"),
            ("\"ab\"@example.com", "begin and end"),
            ("a..b@example.com", "not a valid address"),
            (".a@example.com", "not a valid address"),
            ("a.@example.com", "not a valid address"),
            ("a;b@example.com", "not a valid address"),
            ("a(b)@example.com", "not a valid address"),
            ("<a@example.com>", "not a valid address"),
            ("a@example.com'", "not a valid address"),
            ("a@exa_mple.com", "host name"),
            ("a@exa!mple.com", "host name"),
            ("a@-example.com", "not a valid address"),
            ("a@example-.com", "not a valid address"),
            ("a@b..co", "empty label"),
            ("a@[127.0.0.1]", "not a valid address"),
            ("a@[10.0.0.1].x", "not a valid address"),
            ("a@localhost", "dot"),
            ("a@.example.com", "dot"),
            ("a@example.com.", "dot"),
            ("a@b@example.com", "exactly one"),
            ("@example.com", "exactly one"),
            ("a\tb@example.com", "whitespace"),
            (long_local.as_str(), "at most 64"),
            (long_label.as_str(), "label at most 63"),
        ] {
            let err = check_email(bad).expect_err(bad);
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
