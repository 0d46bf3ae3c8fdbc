// What the deployment needs from the pipeline config (statemachine/pipelines.toml): the Glue jobs that
// trigger a run, the Glue tables refresh-iceberg reads, and the SQL files the Lambdas load at cold
// start. The full validation is the Rust `pipeline` crate's (`postetl validate`); this reader only
// fails the synth early on what would make the deployed stack wrong.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'smol-toml';

export interface GlueTableRef {
  readonly database: string;
  readonly table: string;
}

export interface PipelineSummary {
  /** Every pipeline's glue_jobs, de-duplicated and sorted. */
  readonly glueJobs: string[];
  /** Every pipeline's iceberg_tables (glue_database, glue_table), de-duplicated and sorted. */
  readonly glueTables: GlueTableRef[];
  /** Every sql_file named in merges, checks and marts, relative to the config file. */
  readonly sqlFiles: string[];
  /**
   * The state machine's TimeoutSeconds, in minutes: the largest `run_timeout_minutes` of
   * `[settings]` and of any pipeline, 240 when none is set.
   */
  readonly runTimeoutMinutes: number;
}

export const DEFAULT_RUN_TIMEOUT_MINUTES = 240;
/** The range `postetl validate` accepts for run_timeout_minutes. */
const RUN_TIMEOUT_RANGE = [5, 1440] as const;

function runTimeout(v: unknown, where: string): number | undefined {
  if (v === undefined) return undefined;
  const [min, max] = RUN_TIMEOUT_RANGE;
  // smol-toml gives TOML integers as numbers (bigint only beyond 2^53).
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new Error(`${where} must be a whole number of minutes from ${min} to ${max}, got ${String(v)}`);
  }
  return v;
}

type Table = Record<string, unknown>;

const isTable = (v: unknown): v is Table => typeof v === 'object' && v !== null && !Array.isArray(v);

function tables(v: unknown, where: string): Table[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every(isTable)) throw new Error(`${where} must be an array of tables`);
  return v;
}

function text(v: unknown, where: string): string {
  if (typeof v !== 'string' || v.trim() === '') throw new Error(`${where} must be a non-empty string`);
  return v;
}

export function readPipelineConfig(configPath: string): PipelineSummary {
  let doc: Table;
  try {
    doc = parse(fs.readFileSync(configPath, 'utf8')) as Table;
  } catch (e) {
    throw new Error(`cannot read the pipeline config ${configPath}: ${(e as Error).message}`);
  }
  const pipelines = doc.pipelines;
  if (!isTable(pipelines) || Object.keys(pipelines).length === 0) {
    throw new Error(`${configPath}: no [pipelines.<name>] table`);
  }
  const jobs = new Set<string>();
  const glueTables = new Map<string, GlueTableRef>();
  const sqlFiles = new Set<string>();
  const settings = doc.settings === undefined ? {} : doc.settings;
  if (!isTable(settings)) throw new Error(`${configPath}: settings must be a table`);
  const timeouts = [runTimeout(settings.run_timeout_minutes, `${configPath}: settings.run_timeout_minutes`)];
  for (const [name, pipeline] of Object.entries(pipelines)) {
    const at = `${configPath}: pipelines.${name}`;
    if (!isTable(pipeline)) throw new Error(`${at} must be a table`);
    timeouts.push(runTimeout(pipeline.run_timeout_minutes, `${at}.run_timeout_minutes`));
    const glueJobs = pipeline.glue_jobs ?? [];
    if (!Array.isArray(glueJobs)) throw new Error(`${at}.glue_jobs must be an array of job names`);
    glueJobs.forEach((job, i) => jobs.add(text(job, `${at}.glue_jobs[${i}]`)));
    tables(pipeline.iceberg_tables, `${at}.iceberg_tables`).forEach((t, i) => {
      const database = text(t.glue_database, `${at}.iceberg_tables[${i}].glue_database`);
      const table = text(t.glue_table, `${at}.iceberg_tables[${i}].glue_table`);
      glueTables.set(`${database}/${table}`, { database, table });
    });
    for (const kind of ['merges', 'checks', 'marts']) {
      tables(pipeline[kind], `${at}.${kind}`).forEach((item, i) => {
        if (item.sql_file !== undefined) sqlFiles.add(text(item.sql_file, `${at}.${kind}[${i}].sql_file`));
      });
    }
  }
  return {
    glueJobs: [...jobs].sort(),
    glueTables: [...glueTables.keys()].sort().map((k) => glueTables.get(k)!),
    sqlFiles: [...sqlFiles].sort(),
    runTimeoutMinutes: Math.max(...timeouts.filter((t): t is number => t !== undefined), 0) || DEFAULT_RUN_TIMEOUT_MINUTES,
  };
}

/**
 * Builds the config layer's content in a fresh directory and returns it:
 * `postetl/pipelines.toml` (the config, whatever its file name) and `postetl/sql/...` (the `sql`
 * directory beside it). A Lambda layer unpacks under /opt, so the Lambdas read
 * /opt/postetl/pipelines.toml. Fails if a `sql_file` the config names would not be in the layer.
 */
export function stageConfigLayer(configPath: string, summary: PipelineSummary): string {
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'postetl-config-layer-'));
  const root = path.join(stage, 'postetl');
  fs.mkdirSync(root);
  fs.copyFileSync(configPath, path.join(root, 'pipelines.toml'));
  const sqlDir = path.join(path.dirname(configPath), 'sql');
  if (fs.existsSync(sqlDir)) {
    fs.cpSync(sqlDir, path.join(root, 'sql'), { recursive: true, dereference: true });
  }
  for (const file of summary.sqlFiles) {
    const staged = path.resolve(root, file);
    if (!staged.startsWith(path.join(root, 'sql') + path.sep) || !fs.existsSync(staged)) {
      throw new Error(
        `${configPath}: sql_file ${JSON.stringify(file)} must name a file in the sql/ directory beside the config ` +
          '(only that directory is shipped in the config layer)',
      );
    }
  }
  return stage;
}
