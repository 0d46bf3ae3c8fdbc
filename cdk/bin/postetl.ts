#!/usr/bin/env node
// The CDK app: one stack, configured by context (cdk.json; see README.md).
// POSTETL_SKIP_BUNDLING=1 synthesizes without building the Rust functions (the CLI cannot set the
// `aws:cdk:bundling-stacks` context itself); their code assets then point at the workspace.

import { App } from 'aws-cdk-lib';
import { configFromContext } from '../lib/config';
import { PostEtlStack } from '../lib/postetl-stack';
import { validatePipelineConfig } from '../lib/validate';

const skipBundling = process.env.POSTETL_SKIP_BUNDLING === '1';
const app = new App(skipBundling ? { postCliContext: { 'aws:cdk:bundling-stacks': [] } } : {});
const config = configFromContext(app.node);
// The same validation as `postetl validate` (see lib/validate.ts; POSTETL_SKIP_VALIDATE=1 skips it).
try {
  validatePipelineConfig(config.pipelineConfigPath);
} catch (e) {
  // Its messages, not a stack trace of this app.
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
}
new PostEtlStack(app, app.node.tryGetContext('stackName') ?? 'PostEtl', {
  config,
  env: {
    account: config.account ?? process.env.CDK_DEFAULT_ACCOUNT,
    region: config.region ?? process.env.CDK_DEFAULT_REGION,
  },
  description: 'postetl: refresh Snowflake after Glue writes Iceberg tables',
});
