//! What ended a command, as an exit code a script can branch on and one message with a hint.

use aws_sdk_sfn::config::http::HttpResponse;
use aws_sdk_sfn::error::{ProvideErrorMetadata, SdkError};
use std::fmt;

/// The exit codes, as `postetl --help` and the README list them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The execution ran and did not succeed (FAILED, TIMED_OUT, ABORTED), or a `debug` check
    /// failed.
    RunFailed = 1,
    /// The command line, the config, a name or a file is wrong; nothing was started.
    BadInput = 2,
    /// AWS could not be reached or refused the credentials.
    Aws = 3,
}

pub const EXIT_CODES: &str = "\
Exit codes:
  0  done (a watched execution SUCCEEDED)
  1  the execution ended FAILED, TIMED_OUT or ABORTED; a `debug` check failed
  2  bad input: usage, config, pipeline or table name, event file; nothing started
  3  could not reach AWS, or AWS refused the credentials or the request";

#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}

/// Service error codes that mean the request named something wrong, not that AWS failed.
const INPUT_CODES: &[&str] = &[
    "InvalidArn",
    "InvalidName",
    "InvalidExecutionInput",
    "StateMachineDoesNotExist",
    "ExecutionDoesNotExist",
    "ExecutionAlreadyExists",
    "StateMachineDeleting",
    "ValidationException",
];

/// Service error codes that mean the credentials are missing, wrong, expired or not allowed.
const CREDENTIAL_CODES: &[&str] = &[
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "ExpiredTokenException",
    "ExpiredToken",
    "AccessDeniedException",
    "MissingAuthenticationToken",
];

const CREDENTIALS_HINT: &str = "set AWS_PROFILE (after `aws sso login` if it uses SSO) or \
AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; for the local stack: source target/local/env.sh";

impl Failure {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Failure {
            exit,
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// An AWS SDK error as one line, its code chosen by what went wrong, with what to check.
    pub fn aws<E>(operation: &str, error: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        if let SdkError::ServiceError(service) = &error {
            let e = service.err();
            let code = e.code().unwrap_or("unknown");
            let message = match e.message() {
                Some(m) => format!("{operation}: {code}: {m}"),
                // No error document: what the endpoint answered is all there is to go on.
                None => {
                    let raw = service.raw();
                    let body = raw.body().bytes().map(String::from_utf8_lossy);
                    let body: String = body.unwrap_or_default().chars().take(200).collect();
                    format!(
                        "{operation}: {code}: HTTP {} {}",
                        raw.status().as_u16(),
                        body.trim()
                    )
                }
            };
            return if INPUT_CODES.contains(&code) {
                Failure::new(Exit::BadInput, message)
            } else if CREDENTIAL_CODES.contains(&code) {
                Failure::new(Exit::Aws, message).hint(CREDENTIALS_HINT)
            } else {
                Failure::new(Exit::Aws, message)
            };
        }
        let chain = chain(&error);
        let message = format!("{operation}: {chain}");
        let lower = chain.to_lowercase();
        let hint = if lower.contains("credential") {
            CREDENTIALS_HINT.to_string()
        } else if lower.contains("region") {
            "set AWS_REGION, or AWS_PROFILE naming a profile with a region".to_string()
        } else {
            let endpoint = std::env::var("AWS_ENDPOINT_URL")
                .map(|u| format!("AWS_ENDPOINT_URL is {u}: is it running?"))
                .unwrap_or_else(|_| {
                    "check the network, or set AWS_ENDPOINT_URL for a local stack \
                     (bash tests/local.sh up)"
                        .to_string()
                });
            format!("could not reach Step Functions; {endpoint}")
        };
        Failure::new(Exit::Aws, message).hint(hint)
    }
}

/// The error and its sources in one line, each message once (the SDK's layers often repeat the
/// message of the layer below).
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.retain(|p| !text.contains(p.as_str()));
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}
