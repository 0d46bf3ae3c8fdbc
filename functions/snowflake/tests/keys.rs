//! Private keys in every form Snowflake's key-pair guide produces, generated at test time with the
//! same openssl commands the guide gives.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use snowflake::{JwtIssuer, PrivateKey, SecretString};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

struct Keys {
    dir: PathBuf,
}

impl Keys {
    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap()
    }
}

fn openssl(dir: &Path, args: &str) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("openssl {args}"))
        .current_dir(dir)
        .output()
        .expect("openssl is installed by tests/setup.sh");
    assert!(
        out.status.success(),
        "openssl {args}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("postetl-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        openssl(&dir, "genrsa -out rsa.pem 2048");
        openssl(
            &dir,
            "pkcs8 -topk8 -inform PEM -in rsa.pem -nocrypt -out plain.p8",
        );
        openssl(
            &dir,
            "pkcs8 -topk8 -v2 des3 -inform PEM -in rsa.pem -passout pass:s3cret -out des3.p8",
        );
        openssl(
            &dir,
            "pkcs8 -topk8 -v2 aes-256-cbc -inform PEM -in rsa.pem -passout pass:s3cret -out aes.p8",
        );
        openssl(&dir, "rsa -in rsa.pem -traditional -out pkcs1.pem");
        openssl(
            &dir,
            "rsa -in rsa.pem -traditional -aes256 -passout pass:s3cret -out legacy.pem",
        );
        openssl(&dir, "rsa -in rsa.pem -pubout -out pub.pem");
        openssl(&dir, "rsa -in rsa.pem -pubout -outform DER -out pub.der");
        openssl(&dir, "dgst -sha256 -binary -out pub.sha256 pub.der");
        openssl(&dir, "enc -base64 -A -in pub.sha256 -out fp.txt");
        openssl(&dir, "genrsa -out small.pem 1024");
        Keys { dir }
    })
}

fn load(name: &str, pass: Option<&str>) -> snowflake::Result<PrivateKey> {
    let pem = SecretString::new(keys().read(name));
    let pass = pass.map(SecretString::new);
    PrivateKey::from_pem(&pem, pass.as_ref())
}

fn expected_fingerprint() -> String {
    format!("SHA256:{}", keys().read("fp.txt").trim())
}

#[test]
fn every_supported_form_gives_the_same_fingerprint_as_openssl() {
    let want = expected_fingerprint();
    for (name, pass) in [
        ("plain.p8", None),
        ("des3.p8", Some("s3cret")),
        ("aes.p8", Some("s3cret")),
        ("pkcs1.pem", None),
    ] {
        let key = load(name, pass).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(key.fingerprint(), want, "{name}");
    }
}

#[test]
fn pem_with_escaped_newlines_or_only_its_body_is_accepted() {
    let pem = keys().read("plain.p8");
    let escaped = pem.replace('\n', "\\n");
    let key = PrivateKey::from_pem(&SecretString::new(escaped), None).unwrap();
    assert_eq!(key.fingerprint(), expected_fingerprint());
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let key = PrivateKey::from_pem(&SecretString::new(body), None).unwrap();
    assert_eq!(key.fingerprint(), expected_fingerprint());
}

#[test]
fn bad_keys_get_their_own_named_errors() {
    let cases: [(&str, Option<&str>, &str); 5] = [
        ("des3.p8", Some("wrong"), "Snowflake.WrongPassphrase"),
        ("aes.p8", Some("wrong"), "Snowflake.WrongPassphrase"),
        ("aes.p8", None, "Snowflake.MissingSecretField"),
        ("legacy.pem", Some("s3cret"), "Snowflake.LegacyEncryptedKey"),
        ("small.pem", None, "Snowflake.InvalidKey"),
    ];
    for (name, pass, want) in cases {
        let err = load(name, pass).unwrap_err();
        assert_eq!(err.name(), want, "{name}: {err}");
        let text = format!("{err} {err:?}");
        assert!(
            !text.contains("s3cret") && !text.contains("wrong"),
            "{text}"
        );
    }
    for garbage in [
        "",
        "not a key",
        &pem_block("CERTIFICATE", "AAAA"),
        &pem_block("PRIVATE KEY", "AAAA"),
    ] {
        let err = PrivateKey::from_pem(&SecretString::new(garbage), None).unwrap_err();
        assert_eq!(err.name(), "Snowflake.InvalidKey", "{garbage:?}");
    }
}

#[test]
fn the_jwt_has_snowflakes_claims_and_verifies_with_the_public_key() {
    let key = load("des3.p8", Some("s3cret")).unwrap();
    let fp = key.fingerprint().to_string();
    let issuer =
        JwtIssuer::new("myorg.my_acct", "svc_user", key, Duration::from_secs(7200)).unwrap();
    let now = SystemTime::now();
    let jwt = issuer.issue(now).unwrap();
    assert_eq!(
        jwt.expires_at.duration_since(jwt.issued_at).unwrap(),
        Duration::from_secs(3600),
        "the lifetime is capped at one hour"
    );
    let public = DecodingKey::from_rsa_pem(keys().read("pub.pem").as_bytes()).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    let data = jsonwebtoken::decode::<serde_json::Value>(jwt.token.expose(), &public, &validation)
        .unwrap();
    assert_eq!(data.claims["sub"], "MYORG-MY_ACCT.SVC_USER");
    assert_eq!(data.claims["iss"], format!("MYORG-MY_ACCT.SVC_USER.{fp}"));
    assert!(
        format!("{jwt:?} {issuer:?}")
            .find(jwt.token.expose())
            .is_none()
    );
}

/// A PEM block with a made-up body (built, so no key-shaped text sits in the repository).
fn pem_block(label: &str, body: &str) -> String {
    format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----")
}
