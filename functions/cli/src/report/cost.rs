//! What a run cost, in dollars, at the prices of `[settings.prices]`:
//! - Snowflake: the warehouse's credits per hour at its size (Snowflake's credit table for
//!   standard warehouses, "Warehouse size" in the virtual warehouse overview) times the seconds it
//!   ran because of this run, billed per second with a 60-second minimum each time it resumes
//!   ("Virtual warehouse credit usage"). A warehouse this run found already running is not charged
//!   to it: the run shared compute someone else started, and Snowflake bills that warehouse's time
//!   either way. Cloud services credits are left out (billed only past 10% of daily compute).
//! - Step Functions Standard: per state transition (every state entered, Map iterations' states
//!   included, as AWS counts them).
//! - Lambda: requests, and GB-seconds from each Lambda task's start to its end as the history
//!   records it (an upper bound of the billed duration) at the configured memory.

use pipeline::config::Prices;
use serde::Serialize;

/// Credits per hour of a standard warehouse, by size as `SHOW WAREHOUSES` spells it.
pub fn credits_per_hour(size: &str) -> Option<f64> {
    let normal = pipeline::config::normalise_size(size)?;
    let credits = match normal.as_str() {
        "XSMALL" => 1.0,
        "SMALL" => 2.0,
        "MEDIUM" => 4.0,
        "LARGE" => 8.0,
        "XLARGE" => 16.0,
        "XXLARGE" => 32.0,
        "XXXLARGE" => 64.0,
        "X4LARGE" => 128.0,
        "X5LARGE" => 256.0,
        "X6LARGE" => 512.0,
        _ => return None,
    };
    Some(credits)
}

/// Snowflake bills at least this long each time a warehouse resumes.
pub const MINIMUM_BILLED_SECONDS: f64 = 60.0;

/// What a run used, as read from its history (and the ledger when it was read).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// The warehouse's size while the run used it, if known.
    pub warehouse_size: Option<String>,
    /// Seconds the warehouse ran because this run resumed it (None: not resumed by this run).
    pub warehouse_seconds: Option<f64>,
    pub state_transitions: u32,
    pub lambda_requests: u32,
    pub lambda_seconds: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cost {
    pub prices: Prices,
    pub usage: Usage,
    pub billed_warehouse_seconds: f64,
    pub credits: f64,
    pub snowflake_usd: f64,
    pub step_functions_usd: f64,
    pub lambda_gb_seconds: f64,
    pub lambda_usd: f64,
    pub total_usd: f64,
    /// What could not be priced, in words.
    pub notes: Vec<String>,
}

pub fn cost(usage: Usage, prices: &Prices) -> Cost {
    let mut notes = Vec::new();
    let billed = usage
        .warehouse_seconds
        .map_or(0.0, |s| s.max(MINIMUM_BILLED_SECONDS));
    let rate = match (&usage.warehouse_size, usage.warehouse_seconds) {
        (_, None) => 0.0,
        (Some(size), Some(_)) => credits_per_hour(size).unwrap_or_else(|| {
            notes.push(format!(
                "unknown warehouse size {size:?}: its credits are not counted"
            ));
            0.0
        }),
        (None, Some(_)) => {
            notes.push("the warehouse's size is unknown: its credits are not counted".into());
            0.0
        }
    };
    if usage.warehouse_seconds.is_none() {
        notes.push("the warehouse was not resumed by this run: no credits charged to it".into());
    }
    let credits = rate * billed / 3600.0;
    let snowflake_usd = credits * prices.snowflake_credit;
    let step_functions_usd = f64::from(usage.state_transitions) * prices.state_transition;
    let gb_seconds = usage.lambda_seconds * prices.lambda_memory_mb as f64 / 1024.0;
    let lambda_usd = gb_seconds * prices.lambda_gb_second
        + f64::from(usage.lambda_requests) * prices.lambda_request;
    Cost {
        prices: prices.clone(),
        usage,
        billed_warehouse_seconds: billed,
        credits,
        snowflake_usd,
        step_functions_usd,
        lambda_gb_seconds: gb_seconds,
        lambda_usd,
        total_usd: snowflake_usd + step_functions_usd + lambda_usd,
        notes,
    }
}

impl Cost {
    /// The summary's `cost` field, wrapped to 80 columns like the others.
    pub fn print(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        let text = format!(
            "  {:<14} ${:.4} at {} list prices: Snowflake ${:.4} ({}, {:.0} s billed, {:.4} \
             credits), Step Functions ${:.4} ({} transitions), Lambda ${:.5} ({} requests, \
             {:.1} GB-s)",
            "cost",
            self.total_usd,
            self.prices.region,
            self.snowflake_usd,
            self.usage
                .warehouse_size
                .as_deref()
                .unwrap_or("size unknown"),
            self.billed_warehouse_seconds,
            self.credits,
            self.step_functions_usd,
            self.usage.state_transitions,
            self.lambda_usd,
            self.usage.lambda_requests,
            self.lambda_gb_seconds
        );
        for line in crate::text::wrap(&text, 17) {
            writeln!(out, "{line}")?;
        }
        Ok(())
    }

    /// One line for a terminal: `$0.0512 (warehouse 0.0167 credits …)`.
    pub fn line(&self) -> String {
        format!(
            "${:.4}: Snowflake ${:.4} ({:.4} credits, {:.0} s billed), Step Functions ${:.4} \
             ({} transitions), Lambda ${:.6} ({} requests, {:.1} GB-s)",
            self.total_usd,
            self.snowflake_usd,
            self.credits,
            self.billed_warehouse_seconds,
            self.step_functions_usd,
            self.usage.state_transitions,
            self.lambda_usd,
            self.usage.lambda_requests,
            self.lambda_gb_seconds
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_run_pays_the_sixty_second_minimum_at_its_size() {
        let usage = Usage {
            warehouse_size: Some("Small".into()),
            warehouse_seconds: Some(12.0),
            state_transitions: 20,
            lambda_requests: 9,
            lambda_seconds: 4.0,
        };
        let c = cost(usage, &Prices::default());
        assert_eq!(c.billed_warehouse_seconds, 60.0);
        // 2 credits per hour for a minute, at $3 a credit.
        assert!((c.credits - 2.0 / 60.0).abs() < 1e-9, "{c:?}");
        assert!((c.snowflake_usd - 0.1).abs() < 1e-9, "{c:?}");
        assert!((c.step_functions_usd - 20.0 * 0.000_025).abs() < 1e-12);
        assert!((c.lambda_gb_seconds - 1.0).abs() < 1e-9);
        let total = c.snowflake_usd + c.step_functions_usd + c.lambda_usd;
        assert!((c.total_usd - total).abs() < 1e-12);
    }

    #[test]
    fn a_warehouse_found_running_is_not_charged_to_the_run() {
        let usage = Usage {
            warehouse_size: Some("X-Large".into()),
            warehouse_seconds: None,
            ..Usage::default()
        };
        let c = cost(usage, &Prices::default());
        assert_eq!((c.credits, c.snowflake_usd), (0.0, 0.0));
        assert!(c.notes[0].contains("not resumed by this run"), "{c:?}");
        assert_eq!(credits_per_hour("X-Large"), Some(16.0));
        assert_eq!(credits_per_hour("6X-Large"), Some(512.0));
        assert_eq!(credits_per_hour("huge"), None);
    }
}
