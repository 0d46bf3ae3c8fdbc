//! RSA keys for tests, generated at test time with openssl, never stored in the repository.

use snowflake::SecretString;
use std::process::{Command, Stdio};

/// A fresh 2048-bit key pair in PEM (PKCS#8 private, SPKI public).
pub struct TestKey {
    pub private_pem: SecretString,
    pub public_pem: String,
}

impl TestKey {
    pub fn generate() -> Self {
        let private = run(
            "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048",
            b"",
        );
        let public = run("openssl pkey -pubout", &private);
        Self {
            private_pem: SecretString::new(String::from_utf8(private).expect("PEM is ASCII")),
            public_pem: String::from_utf8(public).expect("PEM is ASCII"),
        }
    }

    /// The private key encrypted as PKCS#8 PBES2 with a passphrase (Snowflake's guide uses des3).
    pub fn encrypted_pem(&self, passphrase: &str) -> SecretString {
        let out = run_with(
            "openssl pkcs8 -topk8 -v2 des3 -passout env:POSTETL_TEST_PASSPHRASE",
            self.private_pem.expose().as_bytes(),
            Some(passphrase),
        );
        SecretString::new(String::from_utf8(out).expect("PEM is ASCII"))
    }

    /// The secret JSON the Lambdas read, for a user of the emulator.
    pub fn secret_json(
        &self,
        account: &str,
        user: &str,
        passphrase: Option<(&str, &SecretString)>,
    ) -> SecretString {
        let (key, pass) = match passphrase {
            Some((pass, pem)) => (pem.expose().to_string(), pass.to_string()),
            None => (self.private_pem.expose().to_string(), String::new()),
        };
        SecretString::new(
            serde_json::json!({
                "account": account, "user": user, "privateKey": key, "passphrase": pass,
                "role": "POSTETL", "warehouse": "POSTETL_WH", "database": "ANALYTICS", "schema": "PUBLIC",
            })
            .to_string(),
        )
    }
}

fn run(command: &str, input: &[u8]) -> Vec<u8> {
    run_with(command, input, None)
}

/// The passphrase reaches openssl through its child environment only, never a command line.
fn run_with(command: &str, input: &[u8], passphrase: Option<&str>) -> Vec<u8> {
    use std::io::Write;
    let mut command_line = Command::new("sh");
    if let Some(p) = passphrase {
        command_line.env("POSTETL_TEST_PASSPHRASE", p);
    }
    let mut child = command_line
        .arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl is installed (tests/setup.sh)");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
