//! Key-pair authentication: reading the private key and issuing the RS256 JWT Snowflake expects.

use crate::account::jwt_account;
use crate::error::{Error, Result};
use crate::snowflake_secret::SecretString;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use zeroize::Zeroizing;

/// Snowflake refuses a token more than an hour after `iat`, whatever `exp` says.
pub const MAX_LIFETIME: Duration = Duration::from_secs(3600);

/// A private key ready to sign, with the fingerprint Snowflake shows as `RSA_PUBLIC_KEY_FP`.
pub struct PrivateKey {
    encoding: EncodingKey,
    fingerprint: String,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Reads a PEM private key: PKCS#8 (`BEGIN PRIVATE KEY`), encrypted PKCS#8 (`BEGIN ENCRYPTED
    /// PRIVATE KEY`, PBES2) or PKCS#1 (`BEGIN RSA PRIVATE KEY`). Secrets often hold the PEM with
    /// literal `\n` escapes, or only its base64 body; both are accepted.
    pub fn from_pem(pem: &SecretString, passphrase: Option<&SecretString>) -> Result<Self> {
        let pem = normalise_pem(pem.expose());
        let key = match pem_label(&pem) {
            Some("ENCRYPTED PRIVATE KEY") => {
                let pass = passphrase.ok_or(Error::MissingSecretField {
                    field: "passphrase",
                })?;
                RsaPrivateKey::from_pkcs8_encrypted_pem(&pem, pass.expose().as_bytes()).map_err(
                    |e| match e {
                        // The structure parsed; only decryption or what came out of it failed.
                        rsa::pkcs8::Error::EncryptedPrivateKey(_)
                        | rsa::pkcs8::Error::Asn1(_)
                        | rsa::pkcs8::Error::KeyMalformed => Error::WrongPassphrase,
                        other => invalid(other),
                    },
                )?
            }
            Some("RSA PRIVATE KEY") if pem.contains("Proc-Type: 4,ENCRYPTED") => {
                return Err(Error::LegacyEncryptedKey);
            }
            Some("RSA PRIVATE KEY") => RsaPrivateKey::from_pkcs1_pem(&pem).map_err(invalid)?,
            Some("PRIVATE KEY") => RsaPrivateKey::from_pkcs8_pem(&pem).map_err(invalid)?,
            Some(_) => {
                return Err(Error::InvalidKey {
                    reason: "not an RSA private key in PKCS#8 or PKCS#1 PEM form".into(),
                });
            }
            None => {
                return Err(Error::InvalidKey {
                    reason: "not PEM (no BEGIN line, and not a base64 PKCS#8 body)".into(),
                });
            }
        };
        Self::from_rsa(&key)
    }

    fn from_rsa(key: &RsaPrivateKey) -> Result<Self> {
        if key.size() * 8 < 2048 {
            return Err(Error::InvalidKey {
                reason: format!(
                    "RSA key of {} bits; Snowflake requires at least 2048",
                    key.size() * 8
                ),
            });
        }
        let der = key.to_pkcs1_der().map_err(invalid)?;
        let encoding = EncodingKey::from_rsa_der(der.as_bytes());
        let fingerprint = fingerprint(&key.to_public_key())?;
        Ok(Self {
            encoding,
            fingerprint,
        })
    }

    /// `SHA256:<base64>`, as in the JWT issuer and in `DESC USER`'s RSA_PUBLIC_KEY_FP.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

/// `SHA256:` + standard base64 of SHA-256 over the public key's DER SubjectPublicKeyInfo.
pub fn fingerprint(public: &RsaPublicKey) -> Result<String> {
    let der = public.to_public_key_der().map_err(invalid)?;
    let digest = Sha256::digest(der.as_bytes());
    Ok(format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    ))
}

fn invalid(e: impl fmt::Display) -> Error {
    // The rsa/pkcs8 errors describe structure only, never key bytes.
    Error::InvalidKey {
        reason: e.to_string(),
    }
}

/// The label of the first PEM block: `-----BEGIN <label>-----`.
fn pem_label(pem: &str) -> Option<&str> {
    let start = pem.find(BEGIN)? + BEGIN.len();
    let len = pem[start..].find(DASHES)?;
    Some(&pem[start..start + len])
}

const DASHES: &str = "-----";
const BEGIN: &str = "-----BEGIN ";

fn normalise_pem(text: &str) -> Zeroizing<String> {
    let text = text.trim().replace("\\n", "\n").replace("\r\n", "\n");
    if text.contains(BEGIN) {
        return Zeroizing::new(text);
    }
    let body: String = text.split_whitespace().collect();
    let looks_base64 = !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
    if !looks_base64 {
        return Zeroizing::new(text);
    }
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    // The base64 body alone is taken as unencrypted PKCS#8, the form Snowflake's guide produces.
    let label = "PRIVATE KEY";
    Zeroizing::new(format!(
        "{BEGIN}{label}{DASHES}\n{}\n{DASHES}END {label}{DASHES}\n",
        lines.join("\n")
    ))
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    iat: u64,
    exp: u64,
}

/// A signed token and when it stops being valid.
#[derive(Clone)]
pub struct Jwt {
    pub token: SecretString,
    pub issued_at: SystemTime,
    pub expires_at: SystemTime,
}

impl fmt::Debug for Jwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwt")
            .field("token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Issues key-pair JWTs for one user.
#[derive(Debug)]
pub struct JwtIssuer {
    key: PrivateKey,
    issuer: String,
    subject: String,
    lifetime: Duration,
}

impl JwtIssuer {
    /// `lifetime` is capped at one hour, Snowflake's limit.
    pub fn new(account: &str, user: &str, key: PrivateKey, lifetime: Duration) -> Result<Self> {
        let user = user.trim().to_ascii_uppercase();
        if user.is_empty() {
            return Err(Error::MissingSecretField { field: "user" });
        }
        let subject = format!("{}.{user}", jwt_account(account)?);
        Ok(Self {
            issuer: format!("{subject}.{}", key.fingerprint()),
            subject,
            key,
            lifetime: lifetime.min(MAX_LIFETIME),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn issue(&self, now: SystemTime) -> Result<Jwt> {
        let iat = now
            .duration_since(UNIX_EPOCH)
            .map_err(|_| Error::InvalidConfig("the clock is before 1970".into()))?
            .as_secs();
        let exp = iat + self.lifetime.as_secs();
        let claims = Claims {
            iss: &self.issuer,
            sub: &self.subject,
            iat,
            exp,
        };
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key.encoding)
                .map_err(|e| Error::InvalidKey {
                    reason: format!("signing failed: {e}"),
                })?;
        Ok(Jwt {
            token: SecretString::new(token),
            issued_at: UNIX_EPOCH + Duration::from_secs(iat),
            expires_at: UNIX_EPOCH + Duration::from_secs(exp),
        })
    }
}
