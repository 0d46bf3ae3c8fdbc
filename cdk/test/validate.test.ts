// `cdk synth` runs `postetl validate`: which CLI it finds, and that a refusal fails with its messages.
// A stand-in CLI (a shell script) plays the refusal here; cdk/test.sh runs the real one.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_DIR } from '../lib/config';
import { validateCommand, validatePipelineConfig } from '../lib/validate';

function fakeCli(script: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'postetl-fake-cli-')), 'postetl');
  fs.writeFileSync(file, `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  return file;
}

test('POSTETL_CLI wins; then target/release, target/debug; else cargo run of postetl-cli', () => {
  expect(validateCommand('/c/p.toml', { POSTETL_CLI: '/opt/postetl' })).toEqual({
    command: '/opt/postetl', args: ['validate', '--config', '/c/p.toml'], label: '/opt/postetl',
  });
  const found = validateCommand('/c/p.toml', {});
  const built = ['release', 'debug'].map((p) => path.join(REPO_DIR, 'target', p, 'postetl')).find((b) => fs.existsSync(b));
  if (built) {
    expect(found.command).toBe(built);
  } else {
    expect(found).toEqual({
      command: 'cargo',
      args: ['run', '-q', '--manifest-path', path.join(REPO_DIR, 'Cargo.toml'), '-p', 'postetl-cli', '--', 'validate', '--config', '/c/p.toml'],
      label: 'cargo run -p postetl-cli',
    });
  }
});

test('a config the CLI accepts passes; the CLI gets validate --config <path>', () => {
  const log = path.join(os.tmpdir(), `postetl-fake-cli-args-${process.pid}`);
  const cli = fakeCli(`echo "$@" > ${log}; echo "/c/p.toml is valid"`);
  expect(() => validatePipelineConfig('/c/p.toml', { POSTETL_CLI: cli })).not.toThrow();
  expect(fs.readFileSync(log, 'utf8').trim()).toBe('validate --config /c/p.toml');
});

test('a config the CLI refuses fails with its messages and exit code', () => {
  const cli = fakeCli('echo "postetl: pipelines.orders.merges[0].keys: give at least one key" >&2; exit 1');
  expect(() => validatePipelineConfig('/c/p.toml', { POSTETL_CLI: cli }))
    .toThrow(/postetl validate refused \/c\/p\.toml \(.*, exit 1\):\npostetl: pipelines\.orders\.merges\[0\]\.keys: give at least one key/);
});

test('a CLI that cannot run names the ways out', () => {
  expect(() => validatePipelineConfig('/c/p.toml', { POSTETL_CLI: '/nonexistent/postetl' }))
    .toThrow(/cannot run \/nonexistent\/postetl to validate \/c\/p\.toml: .*ENOENT.*POSTETL_SKIP_VALIDATE=1/);
});

test('POSTETL_SKIP_VALIDATE=1 skips it, saying so', () => {
  const cli = fakeCli('exit 1');
  const write = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    expect(() => validatePipelineConfig('/c/p.toml', { POSTETL_CLI: cli, POSTETL_SKIP_VALIDATE: '1' })).not.toThrow();
    expect(write).toHaveBeenCalledWith(expect.stringMatching(/POSTETL_SKIP_VALIDATE=1: \/c\/p\.toml was not checked/));
  } finally {
    write.mockRestore();
  }
});
