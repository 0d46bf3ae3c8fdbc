//! `postetl`: validate the pipeline config, print console inputs, and start, replay or watch
//! executions of the post-ETL state machine (on AWS, or any endpoint given by AWS_ENDPOINT_URL).

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "postetl", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check the pipeline config and print what each pipeline does.
    Validate {
        #[arg(long, default_value = "statemachine/pipelines.toml")]
        config: PathBuf,
    },
    /// Print the console input that starts a pipeline by hand.
    Input {
        pipeline: String,
        #[arg(long)]
        dry_run: bool,
        #[arg(long, value_delimiter = ',')]
        tables: Vec<String>,
    },
    /// Start an execution for a pipeline.
    Start {
        pipeline: String,
        #[arg(long)]
        dry_run: bool,
        #[arg(long, value_delimiter = ',')]
        tables: Vec<String>,
        #[command(flatten)]
        target: Target,
    },
    /// Start an execution with a recorded event (e.g. a Glue Job State Change) as input.
    Replay {
        event: PathBuf,
        #[command(flatten)]
        target: Target,
    },
    /// Follow an execution step by step until it ends.
    Watch { execution_arn: String },
    /// Write one run's report: a timeline picture, its statements and its cost, as one HTML file.
    Report {
        /// The execution's ARN, or a run key (`glue:<job>:<run id>`) looked up in the run ledger.
        run: String,
        /// The pipeline config: the ledger table, the warehouse and the prices.
        #[arg(long, default_value = "statemachine/pipelines.toml")]
        config: PathBuf,
        /// html (a self-contained file) or json (the same data, to stdout).
        #[arg(long, default_value = "html")]
        format: ReportFormat,
        /// Where the HTML goes (default: postetl-report-<execution name>.html here).
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Do not read the run ledger (reading it needs the warehouse, which it may resume).
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
struct Target {
    /// The state machine's ARN.
    #[arg(long, env = "POSTETL_STATE_MACHINE_ARN")]
    state_machine: String,
    /// The execution's name (default: a fresh one).
    #[arg(long)]
    name: Option<String>,
    /// Follow the execution until it ends.
    #[arg(long)]
    watch: bool,
}

#[tokio::main]
async fn main() {
    if let Err(e) = run(Cli::parse()).await {
        eprintln!("postetl: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Validate { config } => validate(&config),
        Command::Input {
            pipeline,
            dry_run,
            tables,
        } => {
            println!(
                "{}",
                postetl_cli::console_input(&pipeline, dry_run, &tables)
            );
            Ok(())
        }
        Command::Start {
            pipeline,
            dry_run,
            tables,
            target,
        } => {
            start(
                postetl_cli::console_input(&pipeline, dry_run, &tables),
                target,
            )
            .await
        }
        Command::Replay { event, target } => {
            let text = std::fs::read_to_string(&event)
                .with_context(|| format!("reading {}", event.display()))?;
            let input: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", event.display()))?;
            start(input, target).await
        }
        Command::Watch { execution_arn } => watch(&sfn().await, &execution_arn).await,
        Command::Report {
            run,
            config,
            format,
            output,
            no_ledger,
        } => report(&run, &config, format, output, no_ledger).await,
    }
}

async fn report(
    run: &str,
    config: &std::path::Path,
    format: ReportFormat,
    output: Option<PathBuf>,
    no_ledger: bool,
) -> anyhow::Result<()> {
    use postetl_cli::report;
    let config = pipeline::Config::load(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let client = if no_ledger {
        None
    } else {
        match pipeline::runtime::client_from_env() {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("postetl: the run ledger will not be read: {e}");
                None
            }
        }
    };
    // The ledger is read with the warehouse of the run's pipeline, or else the first pipeline's.
    let warehouse = config
        .pipelines
        .values()
        .next()
        .map(|p| p.warehouse.as_str().to_string())
        .unwrap_or_default();
    let execution = if run.starts_with("arn:") {
        run.to_string()
    } else {
        let client = client
            .as_ref()
            .context("a run key is looked up in the run ledger: give Snowflake settings")?;
        report::ledger::execution_of_run_key(client, &config.ledger_table, &warehouse, run)
            .await?
            .with_context(|| format!("no run with key {run:?} in {}", config.ledger_table))?
    };
    let ledger = client.as_ref().map(|client| report::LedgerSource {
        client,
        table: &config.ledger_table,
        warehouse: &warehouse,
    });
    let report = report::fetch(&sfn().await, &execution, ledger, &config.prices).await?;
    match format {
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        ReportFormat::Html => {
            let name = execution.rsplit(':').next().unwrap_or("run");
            let path =
                output.unwrap_or_else(|| PathBuf::from(format!("postetl-report-{name}.html")));
            std::fs::write(&path, report.html())
                .with_context(|| format!("writing {}", path.display()))?;
            println!("{}", path.display());
            println!("cost: {}", report.cost.line());
        }
    }
    Ok(())
}

fn validate(path: &std::path::Path) -> anyhow::Result<()> {
    let config = match pipeline::Config::load(path) {
        Ok(config) => config,
        Err(e) => bail!("{e}"),
    };
    println!("{} is valid", path.display());
    for p in config.pipelines.values() {
        println!(
            "  {}: jobs {:?}, warehouse {}, {} Iceberg tables, {} merges, {} checks, {} marts",
            p.name,
            p.glue_jobs,
            p.warehouse.as_str(),
            p.iceberg_tables.len(),
            p.merges.len(),
            p.checks.len(),
            p.marts.len()
        );
    }
    Ok(())
}

async fn sfn() -> aws_sdk_sfn::Client {
    aws_sdk_sfn::Client::new(&aws_config::load_from_env().await)
}

async fn start(input: serde_json::Value, target: Target) -> anyhow::Result<()> {
    let sfn = sfn().await;
    let name = target
        .name
        .unwrap_or_else(|| format!("postetl-{}", std::process::id()));
    let execution = sfn
        .start_execution()
        .state_machine_arn(&target.state_machine)
        .name(name)
        .input(input.to_string())
        .send()
        .await
        .context("StartExecution")?
        .execution_arn;
    println!("{execution}");
    if target.watch {
        watch(&sfn, &execution).await?;
    }
    Ok(())
}

async fn watch(sfn: &aws_sdk_sfn::Client, execution: &str) -> anyhow::Result<()> {
    // Knowing the top-level states keeps Map iterations out of the progress lines.
    let top = match sfn
        .describe_state_machine_for_execution()
        .execution_arn(execution)
        .send()
        .await
    {
        Ok(machine) => postetl_cli::top_level_states(&machine.definition),
        Err(_) => Default::default(),
    };
    let mut out = std::io::stdout();
    let summary = postetl_cli::watch(
        sfn,
        execution,
        &top,
        &mut out,
        Duration::from_secs(24 * 3600),
    )
    .await?;
    postetl_cli::print_summary(&summary, &mut out)?;
    if summary.status != "SUCCEEDED" {
        bail!("execution ended {}", summary.status);
    }
    Ok(())
}
