// What `cdk deploy` would run to build each function, read from cargo-lambda-cdk's own bundling
// options (the tests synthesize with bundling skipped, so nothing is built here).
//
// The seam: RustFunction hands its bundling options to `lambda.Code.fromAsset` (cargo-lambda-cdk
// lib/bundling.js), so a spy on it sees the Docker command and the local bundler; the local bundler
// runs its command through `exec` of lib/util.js, which a spy replaces.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { AssetHashType, AssetStaging } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { parse } from 'smol-toml';
import { REPO_DIR } from '../lib/config';
import { MANIFEST_PATH } from '../lib/postetl-stack';
import { FINALIZE, STEPS } from '../lib/step-lambda';
import { synth } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Bundling } = require('cargo-lambda-cdk/lib/bundling');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const util = require('cargo-lambda-cdk/lib/util');

interface AssetCall {
  path: string;
  options: { assetHashType?: AssetHashType; bundling?: any };
}

let calls: AssetCall[];
beforeAll(() => {
  const spy = jest.spyOn(lambda.Code, 'fromAsset');
  synth();
  calls = spy.mock.calls.map(([p, options]) => ({ path: p, options: options as AssetCall['options'] }));
  spy.mockRestore();
});

const rustCalls = () => calls.filter((c) => c.options?.bundling);
const expectedCommand = (binary: string, outputDir: string) =>
  `cargo lambda build --lambda-dir ${outputDir} --release --arm64 --bin ${binary} --flatten ${binary}`;

/** Every function the stack builds, in construction order: the six steps, then finalize. */
const FUNCTIONS = [...STEPS, FINALIZE];
// The finalize crate is written on another branch; until it is merged here its check is skipped
// (shown as skipped by jest), never passed vacuously.
const present = FUNCTIONS.filter((spec) => fs.existsSync(path.join(REPO_DIR, 'functions', spec.binary)));
const absent = FUNCTIONS.filter((spec) => !present.includes(spec));

test('the manifest is the workspace root Cargo.toml', () => {
  expect(MANIFEST_PATH).toBe(path.join(REPO_DIR, 'Cargo.toml'));
});

for (const spec of absent) test.skip(`${spec.binary}: the crate is not in this checkout yet`, () => undefined);

test.each(present.map((x) => [x.binary, x]))('%s is a workspace member with its own binary', (_, spec) => {
  const workspace = parse(fs.readFileSync(MANIFEST_PATH, 'utf8')) as any;
  expect(workspace.workspace.members).toContain(`functions/${spec.binary}`);
  const crate = parse(fs.readFileSync(path.join(REPO_DIR, 'functions', spec.binary, 'Cargo.toml'), 'utf8')) as any;
  // The binary is the package's own (no [[bin]] renaming it).
  expect(crate.package.name).toBe(spec.binary);
  expect(crate.bin).toBeUndefined();
  expect(fs.existsSync(path.join(REPO_DIR, 'functions', spec.binary, 'src', 'main.rs'))).toBe(true);
});

test('one Rust asset per function, built from the workspace root, hashed by its output', () => {
  expect(rustCalls()).toHaveLength(FUNCTIONS.length);
  for (const call of rustCalls()) {
    expect(call.path).toBe(REPO_DIR);
    expect(call.options.assetHashType).toBe(AssetHashType.OUTPUT);
  }
});

test('the Docker fallback runs cargo lambda for the binary, release, arm64', () => {
  const commands = rustCalls().map((c) => c.options.bundling.command);
  expect(commands).toEqual(FUNCTIONS.map((spec) =>
    ['bash', '-c', expectedCommand(spec.binary, AssetStaging.BUNDLING_OUTPUT_DIR)]));
});

test('the local build (cargo lambda on PATH) runs the same command in the workspace root', () => {
  const exec = jest.spyOn(util, 'exec').mockImplementation(() => ({ status: 0 }));
  const runsLocally = Bundling.runsLocally;
  Bundling.runsLocally = true; // as when `cargo lambda --version` works
  try {
    rustCalls().forEach((call, i) => {
      const out = `/tmp/asset-${FUNCTIONS[i].binary}`;
      expect(call.options.bundling.local.tryBundle(out, {})).toBe(true);
      const [cmd, args, options] = exec.mock.calls[i] as [string, string[], any];
      expect(cmd).toBe('bash');
      expect(args).toEqual(['-c', expectedCommand(FUNCTIONS[i].binary, out)]);
      expect(options.cwd).toBe(REPO_DIR);
    });
  } finally {
    Bundling.runsLocally = runsLocally;
    exec.mockRestore();
  }
});
