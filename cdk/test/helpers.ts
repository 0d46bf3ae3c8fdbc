// Builds the stack as `cdk synth` would (cdk.json's context, plus overrides) but without bundling
// the Rust functions, and small readers over the synthesized template.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Annotations, App, CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { IConstruct } from 'constructs';
import { CDK_DIR, configFromContext } from '../lib/config';
import { PostEtlStack } from '../lib/postetl-stack';

export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';

/** A complete keyless context (authMode and the Snowflake connection settings). */
export const KEYLESS = {
  authMode: 'keyless',
  snowflakeAccount: 'myorg-myacct',
  snowflakeUser: 'POSTETL_SVC',
  snowflakeRole: 'POSTETL',
  snowflakeWarehouse: 'POSTETL_WH',
  snowflakeDatabase: 'ANALYTICS',
  snowflakeSchema: 'CORE',
} as const;

export interface Synth {
  app: App;
  stack: PostEtlStack;
  template: Template;
  /** The template as JSON. */
  json: { Resources: Record<string, Resource>; Outputs?: Record<string, { Value: unknown }> };
  /** The logical id of a construct's CloudFormation resource. */
  id: (c: IConstruct) => string;
}

export interface Resource {
  Type: string;
  Properties: Record<string, any>;
  Metadata?: Record<string, any>;
}

const CDK_JSON_CONTEXT = JSON.parse(fs.readFileSync(path.join(CDK_DIR, 'cdk.json'), 'utf8')).context;

export function synth(context: Record<string, unknown> = {}, options: { keepWarnings?: boolean } = {}): Synth {
  const app = new App({
    // As the CLI runs the app (asset metadata on), but without bundling the Rust functions.
    context: { ...CDK_JSON_CONTEXT, ...context, 'aws:cdk:enable-asset-metadata': true, 'aws:cdk:bundling-stacks': [] },
  });
  const stack = new PostEtlStack(app, 'PostEtl', {
    config: configFromContext(app.node),
    env: { account: ACCOUNT, region: REGION },
  });
  // Most tests set no alertEmail; the test of that warning keeps it.
  if (!options.keepWarnings) Annotations.of(stack).acknowledgeWarning('postetl:noAlertSubscriber', 'tests');
  const template = Template.fromStack(stack);
  const id = (c: IConstruct) => stack.getLogicalId((c.node.defaultChild ?? c) as CfnElement);
  return { app, stack, template, json: template.toJSON() as Synth['json'], id };
}

/** Resources of one type, by logical id. */
export function resources(s: Synth, type: string): Record<string, Resource> {
  return Object.fromEntries(Object.entries(s.json.Resources).filter(([, r]) => r.Type === type));
}

/** The statements of every AWS::IAM::Policy attached to a role (there should be exactly one). */
export function roleStatements(s: Synth, roleId: string): unknown[] {
  const policies = Object.values(resources(s, 'AWS::IAM::Policy')).filter((p) =>
    (p.Properties.Roles as unknown[]).some((r) => JSON.stringify(r) === JSON.stringify({ Ref: roleId })),
  );
  expect(policies).toHaveLength(1);
  return policies[0].Properties.PolicyDocument.Statement;
}

/** Every IAM statement in the template, identity and resource policies alike. */
export function allStatements(s: Synth): unknown[] {
  const out: unknown[] = [];
  for (const r of Object.values(s.json.Resources)) {
    for (const key of ['PolicyDocument', 'AssumeRolePolicyDocument']) {
      if (r.Properties?.[key]) out.push(...r.Properties[key].Statement);
    }
    for (const p of r.Properties?.Policies ?? []) out.push(...p.PolicyDocument.Statement);
  }
  return out;
}

/** A Glue ARN as the template renders it for the test region and the stack's account. */
export function glueArn(resource: string): unknown {
  return `arn:aws:glue:${REGION}:${ACCOUNT}:${resource}`;
}

/** Writes a pipeline config (and SQL files) into a temp dir and returns the config's path. */
export function tempPipelineConfig(toml: string, sqlFiles: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postetl-cdk-test-'));
  for (const [name, sql] of Object.entries(sqlFiles)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), sql);
  }
  const file = path.join(dir, 'prod.toml');
  fs.writeFileSync(file, toml);
  return file;
}

/** All files under a directory, relative to it, sorted. */
export function listFiles(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath ?? (e as any).path, e.name)))
    .sort();
}
