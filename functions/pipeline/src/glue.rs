//! The two Glue calls the steps make, with Glue's errors mapped to step error names.

use crate::error::StepError;
use crate::steps::GlueJobRun;
use aws_sdk_glue::config::http::HttpResponse;
use aws_sdk_glue::error::{ProvideErrorMetadata, SdkError};

/// A Glue client from the process's one SDK configuration (`AWS_ENDPOINT_URL` included).
pub async fn client(aws: &snowflake::AwsConfig) -> aws_sdk_glue::Client {
    aws_sdk_glue::Client::new(aws.get().await)
}

/// What the steps read of a Glue table.
#[derive(Debug)]
pub struct GlueTable {
    pub database: String,
    pub name: String,
    /// The Iceberg table's current `metadata_location`, as Glue's table parameters hold it.
    metadata_location: Option<String>,
    /// The storage descriptor's columns, name and Hive type, in order.
    pub columns: Vec<(String, String)>,
}

impl GlueTable {
    pub fn metadata_location(&self) -> Result<&str, StepError> {
        self.metadata_location.as_deref().ok_or_else(|| {
            StepError::GlueNotFound(format!(
                "table {}.{} has no metadata_location (not an Iceberg table?)",
                self.database, self.name
            ))
        })
    }
}

/// One GetTable.
pub async fn table(
    glue: &aws_sdk_glue::Client,
    database: &str,
    name: &str,
) -> Result<GlueTable, StepError> {
    let out = glue
        .get_table()
        .database_name(database)
        .name(name)
        .send()
        .await
        .map_err(|e| classify(e, &format!("table {database}.{name}")))?;
    let table = out.table;
    let columns = table
        .as_ref()
        .and_then(|t| t.storage_descriptor.as_ref())
        .map(|sd| {
            sd.columns()
                .iter()
                .map(|c| (c.name().to_string(), c.r#type().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default();
    Ok(GlueTable {
        database: database.to_string(),
        name: name.to_string(),
        metadata_location: table
            .and_then(|t| t.parameters)
            .and_then(|mut p| p.remove("metadata_location")),
        columns,
    })
}

/// The Iceberg table's current `metadata_location`, as Glue's table parameters hold it.
pub async fn metadata_location(
    glue: &aws_sdk_glue::Client,
    database: &str,
    name: &str,
) -> Result<String, StepError> {
    table(glue, database, name)
        .await?
        .metadata_location()
        .map(str::to_string)
}

/// The job run an event reports, for the plan's record.
pub async fn job_run(
    glue: &aws_sdk_glue::Client,
    job: &str,
    run_id: &str,
) -> Result<GlueJobRun, StepError> {
    let out = glue
        .get_job_run()
        .job_name(job)
        .run_id(run_id)
        .send()
        .await
        .map_err(|e| classify(e, &format!("job run {job}/{run_id}")))?;
    let run = out
        .job_run
        .ok_or_else(|| StepError::GlueNotFound(format!("job run {job}/{run_id}")))?;
    Ok(GlueJobRun {
        state: run.job_run_state.map(|s| s.as_str().to_string()),
        started_on: run.started_on.map(|t| t.to_string()),
        completed_on: run.completed_on.map(|t| t.to_string()),
        execution_time_seconds: Some(run.execution_time),
        attempt: Some(run.attempt),
    })
}

fn classify<E: ProvideErrorMetadata + std::error::Error + 'static>(
    e: SdkError<E, HttpResponse>,
    what: &str,
) -> StepError {
    if e.as_service_error().and_then(|s| s.code()) == Some("EntityNotFoundException") {
        return StepError::GlueNotFound(format!("{what} does not exist"));
    }
    let transient_codes = [
        "ThrottlingException",
        "InternalServiceException",
        "OperationTimeoutException",
    ];
    match &e {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("Unknown");
            let message = format!("{what}: {code}: {}", service.err().message().unwrap_or(""));
            if transient_codes.contains(&code) || service.raw().status().is_server_error() {
                StepError::GlueUnavailable(message)
            } else {
                StepError::GlueFailed(message)
            }
        }
        // Dispatch failures, timeouts and unreadable answers may pass.
        _ => StepError::GlueUnavailable(format!(
            "{what}: {}",
            aws_sdk_glue::error::DisplayErrorContext(&e)
        )),
    }
}
