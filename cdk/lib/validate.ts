// `cdk synth` (and so `cdk deploy`) refuses a pipeline config that `postetl validate` refuses, with
// its messages: lib/pipelines.ts reads only what the stack needs, the Rust `pipeline` crate is the
// one full validation (the same code the Lambdas run at cold start).
//
// The CLI, first found: $POSTETL_CLI; target/release/postetl or target/debug/postetl of the
// workspace; else `cargo run -q -p postetl-cli`. POSTETL_SKIP_VALIDATE=1 skips the check where
// no Rust toolchain is available (the functions still validate the config at cold start).

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_DIR } from './config';

export interface ValidateCommand {
  readonly command: string;
  readonly args: string[];
  /** What the error message calls it. */
  readonly label: string;
}

/** The command that validates `configPath`, as `postetl validate --config <path>`. */
export function validateCommand(configPath: string, env: NodeJS.ProcessEnv = process.env): ValidateCommand {
  const validateArgs = ['validate', '--config', configPath];
  if (env.POSTETL_CLI) return { command: env.POSTETL_CLI, args: validateArgs, label: env.POSTETL_CLI };
  for (const profile of ['release', 'debug']) {
    const binary = path.join(REPO_DIR, 'target', profile, 'postetl');
    if (fs.existsSync(binary)) return { command: binary, args: validateArgs, label: binary };
  }
  return {
    command: 'cargo',
    args: ['run', '-q', '--manifest-path', path.join(REPO_DIR, 'Cargo.toml'), '-p', 'postetl-cli', '--', ...validateArgs],
    label: 'cargo run -p postetl-cli',
  };
}

/** Runs `postetl validate` on the config; throws with its output when it refuses it. */
export function validatePipelineConfig(configPath: string, env: NodeJS.ProcessEnv = process.env): void {
  if (env.POSTETL_SKIP_VALIDATE === '1') {
    process.stderr.write(`postetl: POSTETL_SKIP_VALIDATE=1: ${configPath} was not checked by postetl validate\n`);
    return;
  }
  const { command, args, label } = validateCommand(configPath, env);
  const run = spawnSync(command, args, { cwd: REPO_DIR, encoding: 'utf8', env });
  if (run.error) {
    throw new Error(`cannot run ${label} to validate ${configPath}: ${run.error.message}. Build the CLI `
      + '(cargo build -p postetl-cli), set POSTETL_CLI to its path, or set POSTETL_SKIP_VALIDATE=1 to skip this check');
  }
  if (run.status !== 0) {
    const output = `${run.stdout ?? ''}${run.stderr ?? ''}`.trim();
    throw new Error(`postetl validate refused ${configPath} (${label}, exit ${run.status ?? run.signal}):\n${output}`);
  }
}
