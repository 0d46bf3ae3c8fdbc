//! Account identifiers: the form that goes into the JWT, and the host the client connects to.
//! The two differ on purpose: the JWT wants the bare account, the host keeps region and private link.

use crate::error::{Error, Result};
use url::Url;

const DOMAIN: &str = ".snowflakecomputing.com";

/// The account as the JWT's `iss`/`sub` need it, normalised as Snowflake's connectors do.
///
/// `xy12345.us-east-2.aws` and `xy12345.us-east-2.privatelink` become `XY12345` (locator, region
/// dropped); `myorg.myacct` becomes `MYORG-MYACCT` (the SQL API wants the hyphen); `myorg-myacct`
/// stays; a `.global` account keeps the part before its first hyphen, as snowflake-connector-python's
/// `auth/keypair.py` does.
pub fn jwt_account(account: &str) -> Result<String> {
    let account = strip_domain(account.trim());
    if account.is_empty() {
        return Err(Error::InvalidConfig("the account is empty".into()));
    }
    let bare = if account.contains(".global") {
        account.split('-').next().unwrap_or(account).to_string()
    } else {
        let parts: Vec<&str> = account.split('.').collect();
        match parts.as_slice() {
            [one] => one.to_string(),
            // Region ids always hold a hyphen (us-east-2, east-us-2, us-central1); account names never
            // do, so `org.account` is told apart from `locator.region`.
            [first, second] if is_account_name(second) => format!("{first}-{second}"),
            [first, ..] => first.to_string(),
            [] => unreachable!("split yields at least one part"),
        }
    };
    Ok(bare.to_ascii_uppercase())
}

/// The SQL API base URL for an account: `https://<account>.snowflakecomputing.com`, with
/// `.privatelink` added when asked and not already present. Underscores become hyphens, as
/// Snowflake's URLs require.
pub fn account_url(account: &str, private_link: bool) -> Result<Url> {
    let account = strip_domain(account.trim());
    if account.is_empty()
        || !account
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(Error::InvalidConfig(format!(
            "account {account:?} is not a Snowflake account identifier"
        )));
    }
    let mut host = account.to_ascii_lowercase().replace('_', "-");
    let parts = host.split('.').count();
    if parts == 2 && host.split('.').nth(1).is_some_and(is_account_name) {
        // org.account is written org-account in host names.
        host = host.replacen('.', "-", 1);
    }
    if private_link && !host.ends_with(".privatelink") {
        host.push_str(".privatelink");
    }
    Url::parse(&format!("https://{host}{DOMAIN}"))
        .map_err(|e| Error::InvalidConfig(format!("account {account:?}: {e}")))
}

/// In `a.b`, whether `b` is an account name (org.account) rather than a region or a suffix.
fn is_account_name(part: &str) -> bool {
    !part.contains('-') && !part.eq_ignore_ascii_case("privatelink")
}

fn strip_domain(account: &str) -> &str {
    let account = account
        .strip_prefix("https://")
        .unwrap_or(account)
        .trim_end_matches('/');
    account.strip_suffix(DOMAIN).unwrap_or(account)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_account_forms() {
        let cases = [
            ("xy12345", "XY12345"),
            ("XY12345", "XY12345"),
            ("xy12345.us-east-2.aws", "XY12345"),
            ("xy12345.us-east-1", "XY12345"),
            ("xy12345.east-us-2.azure", "XY12345"),
            ("xy12345.us-central1.gcp", "XY12345"),
            ("xy12345.us-east-2.privatelink", "XY12345"),
            ("xy12345.us-east-2.aws.snowflakecomputing.com", "XY12345"),
            ("myorg-myacct", "MYORG-MYACCT"),
            ("myorg-my_acct", "MYORG-MY_ACCT"),
            ("myorg.myacct", "MYORG-MYACCT"),
            ("myorg-myacct.privatelink", "MYORG-MYACCT"),
            ("myacct-abcdefg.global", "MYACCT"),
            ("  xy12345  ", "XY12345"),
        ];
        for (input, want) in cases {
            assert_eq!(jwt_account(input).unwrap(), want, "input {input:?}");
        }
        assert!(jwt_account("").is_err());
    }

    #[test]
    fn account_urls() {
        let cases = [
            (
                "xy12345.us-east-2.aws",
                false,
                "https://xy12345.us-east-2.aws.snowflakecomputing.com/",
            ),
            (
                "myorg-my_acct",
                false,
                "https://myorg-my-acct.snowflakecomputing.com/",
            ),
            (
                "myorg.myacct",
                false,
                "https://myorg-myacct.snowflakecomputing.com/",
            ),
            (
                "myorg-myacct",
                true,
                "https://myorg-myacct.privatelink.snowflakecomputing.com/",
            ),
            (
                "xy12345.us-east-1.privatelink",
                true,
                "https://xy12345.us-east-1.privatelink.snowflakecomputing.com/",
            ),
            (
                "xy12345.us-east-1",
                true,
                "https://xy12345.us-east-1.privatelink.snowflakecomputing.com/",
            ),
        ];
        for (input, pl, want) in cases {
            assert_eq!(
                account_url(input, pl).unwrap().as_str(),
                want,
                "input {input:?}"
            );
        }
        assert!(account_url("evil.com/x?", false).is_err());
        assert!(account_url("", false).is_err());
    }
}
