//! What the postetl step Lambdas share: the pipeline config, the step contracts, the error names
//! the state machine matches, and the Lambda bootstrap.

pub mod config;
pub mod env_vars;
mod error;
pub mod glue;
pub mod input;
pub mod ledger;
pub mod runtime;
pub mod schema;
pub mod states;
pub mod step_id;
pub mod steps;

pub use config::Config;
pub use error::{StepError, error_names};
pub use runtime::{Deployed, Env, Step, serve, serve_config, serve_with};
pub use snowflake::AwsConfig;
pub use step_id::{STEP_IDS, StepId};
