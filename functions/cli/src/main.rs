//! `postetl`: validate the pipeline config, print console inputs, and start, replay or watch
//! executions of the post-ETL state machine (on AWS, or any endpoint given by AWS_ENDPOINT_URL).

use clap::{Parser, Subcommand};
use postetl_cli::failure::{EXIT_CODES, Exit, Failure};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(name = "postetl", version, about, after_help = EXIT_CODES, max_term_width = 80)]
struct Cli {
    /// The pipeline config that names are checked against.
    #[arg(
        long,
        global = true,
        default_value = "statemachine/pipelines.toml",
        env = pipeline::env_vars::POSTETL_CONFIG
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check the pipeline config and print what each pipeline does.
    Validate,
    /// Print the console input that starts a pipeline by hand (paste it in the Step Functions
    /// console's "Start execution").
    Input(RunArgs),
    /// Start an execution for a pipeline, after checking its name and tables against the config.
    Start {
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        target: Target,
    },
    /// Start an execution with a recorded input: a Glue Job State Change event (as EventBridge
    /// sends it) or a console input.
    Replay {
        /// The JSON file, e.g. statemachine/examples/glue-succeeded.json.
        event: PathBuf,
        #[command(flatten)]
        target: Target,
    },
    /// Print every statement a run of the pipeline would send to Snowflake, in order, without
    /// sending anything.
    Compile {
        /// The pipeline's name in the config, e.g. orders.
        pipeline: String,
    },
    /// Check the Snowflake side as the Lambdas will use it: the secret (or keyless settings), the
    /// connection, role, each pipeline's warehouse and tables; says what is wrong.
    Debug {
        /// The Secrets Manager secret the Lambdas read (name or ARN).
        #[arg(long, env = pipeline::env_vars::POSTETL_SECRET_ID, default_value = "postetl/snowflake")]
        secret_id: String,
        /// Check keyless mode instead: SNOWFLAKE_ACCOUNT, SNOWFLAKE_ROLE, SNOWFLAKE_WAREHOUSE,
        /// SNOWFLAKE_DATABASE and SNOWFLAKE_SCHEMA from the environment, this process's AWS role.
        #[arg(long)]
        keyless: bool,
        /// The SQL API's base URL instead of the account's (the local emulator).
        #[arg(long, env = pipeline::env_vars::SNOWFLAKE_BASE_URL, value_name = "URL")]
        snowflake_url: Option<url::Url>,
        /// Also read each table the pipelines use (LIMIT 0), which resumes a suspended warehouse.
        #[arg(long)]
        use_warehouse: bool,
    },
    /// Follow an execution step by step until it ends.
    Watch {
        /// The execution's ARN, as `start` and `replay` print it.
        execution_arn: String,
    },
    /// Write one run's report: a timeline picture, its statements and its cost, in one HTML file
    /// that opens offline.
    Report {
        /// The execution's ARN, or a run key (glue:<job>:<run id>) looked up in the run ledger.
        run: String,
        /// html (a self-contained file) or json (the same data, to stdout).
        #[arg(long, default_value = "html")]
        format: ReportFormat,
        /// Where the HTML goes (default: postetl-report-<execution name>.html here).
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Do not read the run ledger (reading it runs a query on the pipeline's warehouse, which
        /// resumes it if it is suspended).
        #[arg(long)]
        no_ledger: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ReportFormat {
    Html,
    Json,
}

#[derive(clap::Args)]
struct RunArgs {
    /// The pipeline's name in the config, e.g. orders.
    pipeline: String,
    /// Log every statement instead of running it; no data changes (the warehouse is resumed and
    /// suspended for the reads).
    #[arg(long)]
    dry_run: bool,
    /// Narrow the run to these Iceberg tables (full or short names, comma separated) and what
    /// depends on them: the merges that read them, the checks on what those merges write, the
    /// marts if any merge runs.
    #[arg(long, value_delimiter = ',', value_name = "TABLE,...")]
    tables: Vec<String>,
    /// Run everything, even the tables whose Glue metadata has not moved since the pipeline's
    /// last successful run (which a run otherwise skips, with what depends only on them).
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args)]
struct Target {
    /// The state machine's ARN (`bash tests/local.sh up` prints and exports the local one).
    #[arg(long, env = pipeline::env_vars::POSTETL_STATE_MACHINE_ARN, value_name = "ARN")]
    state_machine: String,
    /// The execution's name (default: <pipeline>-<UTC time>-<random>, unique).
    #[arg(long)]
    name: Option<String>,
    /// Follow the execution until it ends; the exit code then tells how it ended.
    #[arg(long)]
    watch: bool,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Err(failure) = run(cli).await {
        eprintln!("postetl: {failure}");
        std::process::exit(failure.exit as i32);
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let config_path = cli.config;
    match cli.command {
        Command::Validate => validate(&config_path),
        Command::Input(args) => {
            let config = load(&config_path)?;
            check(&config, &config_path, &args)?;
            println!(
                "{}",
                postetl_cli::console_input(&args.pipeline, args.dry_run, &args.tables, args.force)
            );
            Ok(())
        }
        Command::Start { run, target } => {
            let config = load(&config_path)?;
            check(&config, &config_path, &run)?;
            let input =
                postetl_cli::console_input(&run.pipeline, run.dry_run, &run.tables, run.force);
            start(input, &run.pipeline, target, &config.prices).await
        }
        Command::Replay { event, target } => {
            let text = std::fs::read_to_string(&event).map_err(|e| {
                Failure::new(Exit::BadInput, format!("reading {}: {e}", event.display()))
            })?;
            let input: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                Failure::new(
                    Exit::BadInput,
                    format!("{} is not JSON: {e}", event.display()),
                )
            })?;
            let config = load(&config_path)?;
            let pipeline = postetl_cli::names::check_input(
                &config,
                &config_path.display().to_string(),
                &event.display().to_string(),
                &input,
            )
            .map_err(|e| Failure::new(Exit::BadInput, e.to_string()))?;
            let name = pipeline.name.clone();
            start(input, &name, target, &config.prices).await
        }
        Command::Compile { pipeline } => {
            let config = load(&config_path)?;
            let found = postetl_cli::names::check_start(
                &config,
                &config_path.display().to_string(),
                &pipeline,
                &[],
            )
            .map_err(|e| Failure::new(Exit::BadInput, e.to_string()))?;
            let script = postetl_cli::compile::script(&config, found)
                .map_err(|e| Failure::new(Exit::BadInput, e.to_string()))?;
            print!("{script}");
            Ok(())
        }
        Command::Debug {
            secret_id,
            keyless,
            snowflake_url,
            use_warehouse,
        } => {
            let config = load(&config_path)?;
            let sdk = pipeline::AwsConfig::from_env().get().await.clone();
            let auth = if keyless {
                postetl_cli::debug::Auth::Keyless
            } else {
                postetl_cli::debug::Auth::Secret(secret_id)
            };
            let mut out = std::io::stdout();
            let failed = postetl_cli::debug::run(
                &config,
                auth,
                snowflake_url,
                use_warehouse,
                &sdk,
                &mut out,
            )
            .await
            .map_err(|e| Failure::new(Exit::RunFailed, format!("writing: {e}")))?;
            match failed {
                0 => Ok(()),
                n => Err(Failure::new(
                    Exit::RunFailed,
                    format!("{n} check(s) failed"),
                )),
            }
        }
        Command::Watch { execution_arn } => {
            // Prices from the config when it loads; list prices otherwise.
            let prices = pipeline::Config::load(&config_path)
                .map(|c| c.prices)
                .unwrap_or_default();
            watch(
                &sfn(&pipeline::AwsConfig::from_env()).await?,
                &execution_arn,
                &prices,
            )
            .await
        }
        Command::Report {
            run,
            format,
            output,
            no_ledger,
        } => report(&load(&config_path)?, &run, format, output, no_ledger).await,
    }
}

async fn report(
    config: &pipeline::Config,
    run: &str,
    format: ReportFormat,
    output: Option<PathBuf>,
    no_ledger: bool,
) -> Result<(), Failure> {
    use postetl_cli::report;
    // One SDK configuration for Step Functions and the ledger's Snowflake credentials.
    let aws = pipeline::AwsConfig::from_env();
    let client = if no_ledger {
        None
    } else {
        match pipeline::runtime::client_from_env(&aws) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("postetl: the run ledger will not be read: {e}");
                None
            }
        }
    };
    let snowflake =
        |e: snowflake::Error| Failure::new(Exit::RunFailed, format!("reading the run ledger: {e}"));
    // The ledger is read with the first pipeline's warehouse (one query).
    let warehouse = config
        .pipelines
        .values()
        .next()
        .map(|p| p.warehouse.as_str().to_string())
        .unwrap_or_default();
    let execution = if run.starts_with("arn:") {
        run.to_string()
    } else {
        let client = client.as_ref().ok_or_else(|| {
            Failure::new(Exit::BadInput, "a run key is looked up in the run ledger")
                .hint("set the Snowflake settings the Lambdas use (POSTETL_SECRET_ID, ...), or give the execution ARN")
        })?;
        report::ledger::execution_of_run_key(client, &config.ledger_table, &warehouse, run)
            .await
            .map_err(snowflake)?
            .ok_or_else(|| {
                Failure::new(
                    Exit::BadInput,
                    format!("no run with key {run:?} in {}", config.ledger_table),
                )
            })?
    };
    let ledger = client.as_ref().map(|client| report::LedgerSource {
        client,
        table: &config.ledger_table,
        warehouse: &warehouse,
    });
    let report = report::fetch(&sfn(&aws).await?, &execution, ledger, &config.prices)
        .await
        .map_err(|e| Failure::new(Exit::Aws, format!("reading {execution}: {e}")))?;
    match format {
        ReportFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        ),
        ReportFormat::Html => {
            let name = execution.rsplit(':').next().unwrap_or("run");
            let path =
                output.unwrap_or_else(|| PathBuf::from(format!("postetl-report-{name}.html")));
            std::fs::write(&path, report.html()).map_err(|e| {
                Failure::new(Exit::BadInput, format!("writing {}: {e}", path.display()))
            })?;
            println!("{}", path.display());
            println!("cost: {}", report.cost.line());
        }
    }
    Ok(())
}

fn load(path: &Path) -> Result<pipeline::Config, Failure> {
    pipeline::Config::load(path).map_err(|e| {
        Failure::new(Exit::BadInput, e.to_string())
            .hint("`postetl validate` lists every problem; --config picks another file")
    })
}

fn check(config: &pipeline::Config, path: &Path, args: &RunArgs) -> Result<(), Failure> {
    postetl_cli::names::check_start(
        config,
        &path.display().to_string(),
        &args.pipeline,
        &args.tables,
    )
    .map(|_| ())
    .map_err(|e| Failure::new(Exit::BadInput, e.to_string()))
}

fn validate(path: &Path) -> Result<(), Failure> {
    let config = load(path)?;
    println!("{} is valid", path.display());
    for p in config.pipelines.values() {
        let line = format!(
            "  {}: jobs {:?}, warehouse {}, {} Iceberg tables, {} merges, {} checks, {} marts",
            p.name,
            p.glue_jobs,
            p.warehouse.as_str(),
            p.iceberg_tables.len(),
            p.merges.len(),
            p.checks.len(),
            p.marts.len()
        );
        for l in postetl_cli::text::wrap(&line, 4) {
            println!("{l}");
        }
    }
    Ok(())
}

/// A Step Functions client from `aws`, the process's one SDK configuration.
async fn sfn(aws: &pipeline::AwsConfig) -> Result<aws_sdk_sfn::Client, Failure> {
    let config = aws.get().await;
    if config.region().is_none() {
        return Err(Failure::new(Exit::Aws, "no AWS region configured")
            .hint("set AWS_REGION, or AWS_PROFILE naming a profile with a region"));
    }
    Ok(aws_sdk_sfn::Client::new(config))
}

async fn start(
    input: serde_json::Value,
    pipeline: &str,
    target: Target,
    prices: &pipeline::config::Prices,
) -> Result<(), Failure> {
    let sfn = sfn(&pipeline::AwsConfig::from_env()).await?;
    let name = target.name.unwrap_or_else(|| {
        postetl_cli::names::execution_name(pipeline, chrono::Utc::now(), rand::random())
    });
    let execution = sfn
        .start_execution()
        .state_machine_arn(&target.state_machine)
        .name(name)
        .input(input.to_string())
        .send()
        .await
        .map_err(|e| Failure::aws("StartExecution", e))?
        .execution_arn;
    println!("{execution}");
    if target.watch {
        watch(&sfn, &execution, prices).await?;
    }
    Ok(())
}

async fn watch(
    sfn: &aws_sdk_sfn::Client,
    execution: &str,
    prices: &pipeline::config::Prices,
) -> Result<(), Failure> {
    let definition = sfn
        .describe_state_machine_for_execution()
        .execution_arn(execution)
        .send()
        .await
        .map_err(|e| Failure::aws("DescribeStateMachineForExecution", e))?
        .definition;
    let mut out = std::io::stdout();
    let options = postetl_cli::Options {
        live: out.is_terminal(),
        ..Default::default()
    };
    let summary = postetl_cli::watch(
        sfn,
        execution,
        postetl_cli::Definition::parse(&definition),
        &mut out,
        &options,
    )
    .await
    .map_err(|e| match e {
        postetl_cli::WatchError::Aws(failure) => failure,
        // Gave up waiting, or stdout went away: not AWS's doing.
        other => Failure::new(Exit::RunFailed, other.to_string()),
    })?;
    postetl_cli::print_summary(&summary, &mut out)
        .map_err(|e| Failure::new(Exit::RunFailed, format!("writing the summary: {e}")))?;
    if let Err(e) = postetl_cli::report::print_cost(sfn, execution, prices, &mut out).await {
        eprintln!("postetl: the run's cost is not known: {e}");
    }
    if summary.status != "SUCCEEDED" {
        return Err(Failure::new(
            Exit::RunFailed,
            format!("execution ended {}", summary.status),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn every_argument_has_help() {
        fn walk(command: &clap::Command, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                if arg.get_help().is_none() {
                    missing.push(format!("{} {}", command.get_name(), arg.get_id()));
                }
            }
            for sub in command.get_subcommands() {
                if sub.get_about().is_none() && sub.get_name() != "help" {
                    missing.push(sub.get_name().to_string());
                }
                walk(sub, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), &mut missing);
        assert!(missing.is_empty(), "without help: {missing:?}");
        Cli::command().debug_assert();
    }
}
