// The context keys and the pipeline config reader.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { CDK_DIR, configFromContext, REPO_DIR } from '../lib/config';
import { readPipelineConfig } from '../lib/pipelines';
import { tempPipelineConfig } from './helpers';

const fromContext = (context: Record<string, unknown>) => configFromContext(new App({ context }).node);

describe('context', () => {
  test('cdk.json: keypair with the secret name, the repository pipeline config', () => {
    const cdkJson = JSON.parse(fs.readFileSync(path.join(CDK_DIR, 'cdk.json'), 'utf8'));
    expect(cdkJson.app).toBe('npx ts-node --prefer-ts-exts bin/postetl.ts');
    const config = fromContext(cdkJson.context);
    expect(config).toEqual({
      authMode: 'keypair',
      secretName: 'postetl/snowflake',
      pipelineConfigPath: path.join(REPO_DIR, 'statemachine', 'pipelines.toml'),
      snowflakePrivateLink: false,
    });
  });

  test('every key, as the command line passes them (strings)', () => {
    const config = fromContext({
      account: '123456789012',
      region: 'eu-central-1',
      secretName: 'ignored/when/arn',
      secretArn: 'arn:aws:secretsmanager:eu-central-1:123456789012:secret:postetl/snowflake-AbC123',
      secretKmsKeyArn: 'arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      pipelineConfigPath: '/etc/postetl/prod.toml',
      alertEmail: 'oncall@example.com',
      snowflakeBaseUrl: 'https://myorg-myaccount.privatelink.snowflakecomputing.com',
      snowflakePrivateLink: 'true',
      snowflakeIamUserArn: 'arn:aws:iam::999988887777:user/abc1-s-xyz',
      snowflakeExternalId: 'EXT_ID=, GLUE_EXT_ID=',
      snowflakeRoleName: 'postetl-snowflake',
      lakeBucket: 'lake-bucket',
      lakePrefix: 'warehouse/',
    });
    expect(config).toEqual({
      account: '123456789012',
      region: 'eu-central-1',
      authMode: 'keypair',
      secretArn: 'arn:aws:secretsmanager:eu-central-1:123456789012:secret:postetl/snowflake-AbC123',
      secretKmsKeyArn: 'arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      pipelineConfigPath: '/etc/postetl/prod.toml',
      alertEmail: 'oncall@example.com',
      snowflakeBaseUrl: 'https://myorg-myaccount.privatelink.snowflakecomputing.com',
      snowflakePrivateLink: true,
      snowflakeIntegration: {
        iamUserArn: 'arn:aws:iam::999988887777:user/abc1-s-xyz',
        externalIds: ['EXT_ID=', 'GLUE_EXT_ID='],
        roleName: 'postetl-snowflake',
        lakeBucket: 'lake-bucket',
        lakePrefix: 'warehouse/',
      },
    });
  });

  test('keyless needs no secret and keeps none', () => {
    expect(fromContext({ authMode: 'keyless', secretName: 'postetl/snowflake' })).toEqual({
      authMode: 'keyless',
      pipelineConfigPath: path.join(REPO_DIR, 'statemachine', 'pipelines.toml'),
      snowflakePrivateLink: false,
    });
  });

  test.each([
    [{ authMode: 'password', secretName: 'x' }, /authMode: "password" is neither/],
    [{}, /authMode keypair needs secretName or secretArn/],
    [{ secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:postetl/snowflake' }, /secretArn: .* is not a complete Secrets Manager secret ARN/],
    [{ secretName: 'has spaces' }, /secretName: .* is not a secret name/],
    [{ secretName: 'x', snowflakeIamUserArn: 'arn:aws:iam::999988887777:user/u' }, /needs snowflakeExternalId[\s\S]*needs lakeBucket/],
    [{ secretName: 'x', snowflakeExternalId: 'e', lakeBucket: 'b-b' }, /snowflakeExternalId needs snowflakeIamUserArn/],
    [{ secretName: 'x', snowflakeIamUserArn: 'arn:aws:iam::9999:role/r', snowflakeExternalId: 'e', lakeBucket: 'bb' },
      /snowflakeIamUserArn: .* is not an IAM user ARN/],
    [{ secretName: 'x', snowflakeIamUserArn: 'arn:aws:iam::999988887777:user/u', snowflakeExternalId: 'e', lakeBucket: 'bb',
      snowflakeRoleName: 'has space' }, /snowflakeRoleName/],
    [{ secretName: 'x', alertEmail: 'not-an-address' }, /alertEmail/],
    [{ secretName: 'x', snowflakePrivateLink: 'yes' }, /snowflakePrivateLink/],
    [{ secretName: 'x', snowflakeBaseUrl: 'http://insecure' }, /snowflakeBaseUrl/],
    [{ secretName: 'x', account: '12' }, /account/],
    [{ secretName: 'x', secretKmsKeyArn: 'alias/aws/secretsmanager' }, /secretKmsKeyArn/],
  ])('rejects %j', (context, message) => {
    expect(() => fromContext(context)).toThrow(message);
  });
});

describe('pipeline config reader', () => {
  test('the repository config', () => {
    expect(readPipelineConfig(path.join(REPO_DIR, 'statemachine', 'pipelines.toml'))).toEqual({
      glueJobs: ['orders-to-iceberg'],
      glueTables: [{ database: 'lake', table: 'customers' }, { database: 'lake', table: 'orders' }],
      sqlFiles: ['sql/customer_value.sql', 'sql/merge_customers.sql'],
    });
  });

  test('sql_file of checks counts too; tables are de-duplicated', () => {
    const file = tempPipelineConfig([
      '[pipelines.a]', 'glue_jobs = ["j"]',
      '[[pipelines.a.iceberg_tables]]', 'table = "A"', 'glue_database = "d"', 'glue_table = "t"', 'catalog = "glue"',
      '[pipelines.b]',
      '[[pipelines.b.iceberg_tables]]', 'table = "B"', 'glue_database = "d"', 'glue_table = "t"', 'catalog = "glue"',
      '[[pipelines.b.checks]]', 'name = "c"', 'kind = "custom_sql"', 'severity = "warn"', 'sql_file = "sql/c.sql"',
    ].join('\n'));
    expect(readPipelineConfig(file)).toEqual({
      glueJobs: ['j'],
      glueTables: [{ database: 'd', table: 't' }],
      sqlFiles: ['sql/c.sql'],
    });
  });

  test.each([
    ['[settings]\npoll_seconds = 1\n', /no \[pipelines.<name>\] table/],
    ['[pipelines.a]\nglue_jobs = "one-job"\n', /glue_jobs must be an array/],
    ['[pipelines.a]\nglue_jobs = [""]\n', /glue_jobs\[0\] must be a non-empty string/],
    ['[pipelines.a]\n[[pipelines.a.iceberg_tables]]\ntable = "T"\n', /iceberg_tables\[0\].glue_database/],
    ['[pipelines.a\n', /cannot read the pipeline config/],
  ])('rejects %j', (toml, message) => {
    expect(() => readPipelineConfig(tempPipelineConfig(toml))).toThrow(message);
  });
});
