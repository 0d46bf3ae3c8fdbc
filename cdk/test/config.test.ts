// The context keys and the pipeline config reader.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { CDK_DIR, configFromContext, REPO_DIR } from '../lib/config';
import { readPipelineConfig } from '../lib/pipelines';
import { KEYLESS, tempPipelineConfig } from './helpers';

const fromContext = (context: Record<string, unknown>) => configFromContext(new App({ context }).node);

describe('context', () => {
  test('cdk.json: secret mode with the secret name, the repository pipeline config', () => {
    const cdkJson = JSON.parse(fs.readFileSync(path.join(CDK_DIR, 'cdk.json'), 'utf8'));
    expect(cdkJson.app).toBe('npx ts-node --prefer-ts-exts bin/postetl.ts');
    const config = fromContext(cdkJson.context);
    expect(config).toEqual({
      authMode: 'secret',
      secretName: 'postetl/snowflake',
      pipelineConfigPath: path.join(REPO_DIR, 'statemachine', 'pipelines.toml'),
      snowflakePrivateLink: false,
      snowflakeWifSignedRequest: false,
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
      vpc: 'new',
      vpcCidr: '10.42.0.0/20',
      vpcEndpoints: 'sts, secretsmanager,sts',
      snowflakePrivateLinkService: 'com.amazonaws.vpce.eu-central-1.vpce-svc-0123456789abcdef0',
      snowflakePrivateLinkHosts: 'XY12345.eu-central-1.privatelink.snowflakecomputing.com,ocsp.xy12345.eu-central-1.privatelink.snowflakecomputing.com',
      snowflakeIamUserArn: 'arn:aws:iam::999988887777:user/abc1-s-xyz',
      snowflakeExternalId: 'EXT_ID=, GLUE_EXT_ID=',
      snowflakeRoleName: 'postetl-snowflake',
      lakeBucket: 'lake-bucket',
      lakePrefix: 'warehouse/',
    });
    expect(config).toEqual({
      account: '123456789012',
      region: 'eu-central-1',
      authMode: 'secret',
      secretArn: 'arn:aws:secretsmanager:eu-central-1:123456789012:secret:postetl/snowflake-AbC123',
      secretKmsKeyArn: 'arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      pipelineConfigPath: '/etc/postetl/prod.toml',
      alertEmail: 'oncall@example.com',
      snowflakeBaseUrl: 'https://myorg-myaccount.privatelink.snowflakecomputing.com',
      snowflakePrivateLink: true,
      snowflakeWifSignedRequest: false,
      network: {
        vpc: { kind: 'new', cidr: '10.42.0.0/20' },
        endpoints: ['sts', 'secretsmanager'],
        privateLink: {
          serviceName: 'com.amazonaws.vpce.eu-central-1.vpce-svc-0123456789abcdef0',
          endpointDns: undefined,
          hosts: ['xy12345.eu-central-1.privatelink.snowflakecomputing.com', 'ocsp.xy12345.eu-central-1.privatelink.snowflakecomputing.com'],
        },
      },
      snowflakeIntegration: {
        iamUserArn: 'arn:aws:iam::999988887777:user/abc1-s-xyz',
        externalIds: ['EXT_ID=', 'GLUE_EXT_ID='],
        roleName: 'postetl-snowflake',
        lakeBucket: 'lake-bucket',
        lakePrefix: 'warehouse/',
      },
    });
  });

  test('keypair is the old name of secret: both read the same, and secret is the default', () => {
    const expected = fromContext({ authMode: 'secret', secretName: 'postetl/snowflake' });
    expect(expected.authMode).toBe('secret');
    expect(fromContext({ authMode: 'keypair', secretName: 'postetl/snowflake' })).toEqual(expected);
    expect(fromContext({ secretName: 'postetl/snowflake' })).toEqual(expected);
  });

  test('keyless: the Snowflake connection settings, no secret kept', () => {
    const secretKeys = {
      secretName: 'postetl/snowflake',
      secretArn: 'arn:aws:secretsmanager:eu-central-1:123456789012:secret:postetl/snowflake-AbC123',
      secretKmsKeyArn: 'arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    };
    expect(fromContext({ ...KEYLESS, ...secretKeys })).toEqual({
      authMode: 'keyless',
      snowflake: {
        account: 'myorg-myacct',
        user: 'POSTETL_SVC',
        role: 'POSTETL',
        warehouse: 'POSTETL_WH',
        database: 'ANALYTICS',
        schema: 'CORE',
      },
      pipelineConfigPath: path.join(REPO_DIR, 'statemachine', 'pipelines.toml'),
      snowflakePrivateLink: false,
      snowflakeWifSignedRequest: false,
    });
  });

  test('keyless: the user is optional; account forms; identifiers as given', () => {
    const { snowflakeUser: _, ...withoutUser } = KEYLESS;
    expect(fromContext(withoutUser).snowflake!.user).toBeUndefined();
    for (const account of ['myorg-myacct', 'myorg.myacct', 'MYORG-MY_ACCT', 'xy12345', 'xy12345.us-east-2',
      'xy12345.us-east-2.aws', 'xy12345.us-east-1.privatelink']) {
      expect(fromContext({ ...KEYLESS, snowflakeAccount: account }).snowflake!.account).toBe(account);
    }
    expect(fromContext({
      ...KEYLESS, snowflakeUser: 'postetl@example.com', snowflakeRole: '_r$1', snowflakeSchema: 'core',
    }).snowflake).toMatchObject({ user: 'postetl@example.com', role: '_r$1', schema: 'core' });
    expect(fromContext({ ...KEYLESS, snowflakeSchema: 'S'.repeat(255) }).snowflake!.schema).toHaveLength(255);
    expect(() => fromContext({ ...KEYLESS, snowflakeSchema: 'S'.repeat(256) })).toThrow(/snowflakeSchema: .* is not an unquoted Snowflake identifier/);
  });

  test('keyless: the outbound JWT by default; snowflakeWifSignedRequest, false by default, true or false as a string or a boolean', () => {
    expect(fromContext(KEYLESS).snowflakeWifSignedRequest).toBe(false);
    for (const [value, expected] of [['true', true], [true, true], ['false', false], [false, false], [' true ', true], ['', false]] as const) {
      expect([value, fromContext({ ...KEYLESS, snowflakeWifSignedRequest: value }).snowflakeWifSignedRequest])
        .toEqual([value, expected]);
    }
  });

  test('the obsolete snowflakeWifOutboundToken: true is accepted (the default now), anything else names its replacement', () => {
    expect(fromContext({ ...KEYLESS, snowflakeWifOutboundToken: 'true' })).toEqual(fromContext(KEYLESS));
    expect(fromContext({ ...KEYLESS, snowflakeWifOutboundToken: true })).toEqual(fromContext(KEYLESS));
    for (const value of ['false', false, 'yes']) {
      expect(() => fromContext({ ...KEYLESS, snowflakeWifOutboundToken: value }))
        .toThrow(/snowflakeWifOutboundToken: .*the outbound JWT is now the keyless default.*snowflakeWifSignedRequest=true/);
    }
  });

  test('secret mode: snowflakeWifSignedRequest or snowflakeWifOutboundToken true is an error (keyless only), false is accepted', () => {
    for (const key of ['snowflakeWifSignedRequest', 'snowflakeWifOutboundToken']) {
      for (const value of ['true', true]) {
        expect(() => fromContext({ secretName: 'postetl/snowflake', [key]: value }))
          .toThrow(new RegExp(`${key}: applies to authMode keyless only`));
        expect(() => fromContext({ authMode: 'keypair', secretName: 'postetl/snowflake', [key]: value }))
          .toThrow(new RegExp(`${key}: applies to authMode keyless only`));
      }
    }
    for (const value of ['false', false]) {
      expect(fromContext({ secretName: 'postetl/snowflake', snowflakeWifSignedRequest: value }).snowflakeWifSignedRequest).toBe(false);
    }
  });

  test('lakePrefix always ends in one slash, without a leading one; empty stays empty (the whole bucket)', () => {
    const integration = { secretName: 'x', snowflakeIamUserArn: 'arn:aws:iam::999988887777:user/u', snowflakeExternalId: 'e', lakeBucket: 'bb-b' };
    for (const [given, expected] of [['warehouse', 'warehouse/'], ['warehouse/', 'warehouse/'], ['/warehouse//', 'warehouse/'],
      ['a/b', 'a/b/'], ['', ''], ['/', '']] as const) {
      expect([given, fromContext({ ...integration, lakePrefix: given }).snowflakeIntegration!.lakePrefix]).toEqual([given, expected]);
    }
  });

  test('an existing VPC: its id and private subnets; endpoints by name or all', () => {
    const config = fromContext({
      secretName: 'x', vpc: 'vpc-0123456789abcdef0', vpcSubnetIds: 'subnet-0123456789abcdef0, subnet-0123456789abcdef1',
      vpcEndpoints: 'all', snowflakePrivateLink: 'true',
      snowflakePrivateLinkEndpointDns: 'vpce-0123456789abcdef0-abcdefgh.vpce-svc-0123456789abcdef0.eu-west-1.vpce.amazonaws.com',
    });
    expect(config.network).toEqual({
      vpc: { kind: 'existing', vpcId: 'vpc-0123456789abcdef0', subnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'] },
      endpoints: ['secretsmanager', 'sts', 'states', 'glue', 'sns'],
      privateLink: {
        serviceName: undefined,
        endpointDns: 'vpce-0123456789abcdef0-abcdefgh.vpce-svc-0123456789abcdef0.eu-west-1.vpce.amazonaws.com',
        hosts: [],
      },
    });
    expect(fromContext({ secretName: 'x', vpc: 'new' }).network).toEqual({ vpc: { kind: 'new', cidr: '10.0.0.0/16' }, endpoints: [] });
    expect(fromContext({ secretName: 'x' }).network).toBeUndefined();
  });

  test('secret mode ignores the keyless settings: not checked, not kept', () => {
    const config = fromContext({
      secretName: 'postetl/snowflake',
      snowflakeAccount: 'not an account',
      snowflakeRole: '1BAD',
      snowflakeWarehouse: 'POSTETL_WH',
    });
    expect(config.authMode).toBe('secret');
    expect(config.snowflake).toBeUndefined();
  });

  test('keyless: every missing setting is reported at once', () => {
    expect(() => fromContext({ authMode: 'keyless', snowflakeUser: 'POSTETL_SVC' })).toThrow(new RegExp([
      'authMode keyless needs snowflakeAccount',
      'authMode keyless needs snowflakeRole',
      'authMode keyless needs snowflakeWarehouse',
      'authMode keyless needs snowflakeDatabase',
      'authMode keyless needs snowflakeSchema',
    ].join('[\\s\\S]*')));
  });

  test.each([
    [{ authMode: 'password', secretName: 'x' }, /authMode: "password" is neither/],
    [{ authMode: 'Secret', secretName: 'x' }, /authMode: "Secret" is neither "secret" \(or its old name "keypair"\) nor "keyless"/],
    [{}, /authMode secret needs secretName or secretArn/],
    [{ authMode: 'keypair' }, /authMode secret needs secretName or secretArn/],
    [{ ...KEYLESS, snowflakeAccount: 'https://myorg-myacct.snowflakecomputing.com' }, /snowflakeAccount: .* is not a Snowflake account identifier/],
    [{ ...KEYLESS, snowflakeAccount: 'myorg myacct' }, /snowflakeAccount: .* is not a Snowflake account identifier/],
    [{ ...KEYLESS, snowflakeAccount: 'myorg..myacct' }, /snowflakeAccount/],
    [{ ...KEYLESS, snowflakeAccount: '-myorg' }, /snowflakeAccount/],
    [{ ...KEYLESS, snowflakeAccount: "x'; DROP USER y; --" }, /snowflakeAccount/],
    [{ ...KEYLESS, snowflakeUser: 'has space' }, /snowflakeUser: .* is not a Snowflake login name/],
    [{ ...KEYLESS, snowflakeRole: '1ROLE' }, /snowflakeRole: "1ROLE" is not an unquoted Snowflake identifier/],
    [{ ...KEYLESS, snowflakeWarehouse: 'MY-WH' }, /snowflakeWarehouse: "MY-WH" is not an unquoted Snowflake identifier/],
    [{ ...KEYLESS, snowflakeDatabase: '"Quoted"' }, /snowflakeDatabase/],
    [{ ...KEYLESS, snowflakeSchema: 'ANALYTICS.CORE' }, /snowflakeSchema/],
    [{ ...KEYLESS, snowflakeRole: { name: 'POSTETL' } }, /snowflakeRole: expected a string/],
    [{ ...KEYLESS, snowflakeRole: '$ROLE', snowflakeDatabase: '' }, /snowflakeRole: .* is not[\s\S]*authMode keyless needs snowflakeDatabase/],
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
    [{ ...KEYLESS, snowflakeWifSignedRequest: 'yes' }, /snowflakeWifSignedRequest: "yes" is neither true nor false/],
    [{ ...KEYLESS, snowflakeWifSignedRequest: 1 }, /snowflakeWifSignedRequest: "1" is neither true nor false/],
    [{ secretName: 'x', snowflakePrivateLink: 'true' }, /snowflakePrivateLink: needs vpc/],
    [{ secretName: 'x', vpc: 'default' }, /vpc: "default" is neither "new" nor a VPC id/],
    [{ secretName: 'x', vpc: 'vpc-0123456789abcdef0' }, /an existing VPC needs vpcSubnetIds/],
    [{ secretName: 'x', vpc: 'vpc-0123456789abcdef0', vpcSubnetIds: 'sn-1' }, /vpcSubnetIds: "sn-1" is not a subnet id/],
    [{ secretName: 'x', vpc: 'new', vpcSubnetIds: 'subnet-0123456789abcdef0' }, /vpcSubnetIds: only with an existing VPC/],
    [{ secretName: 'x', vpc: 'new', vpcCidr: '10.0.0.0/8' }, /vpcCidr: .* is not an IPv4 CIDR block/],
    [{ secretName: 'x', vpcEndpoints: 'sts' }, /vpcEndpoints: needs vpc/],
    [{ secretName: 'x', vpc: 'new', vpcEndpoints: 'sts,s3' }, /vpcEndpoints: "s3" is not one of all, secretsmanager, sts, states, glue, sns/],
    [{ secretName: 'x', vpc: 'new', snowflakePrivateLinkService: 'com.amazonaws.vpce.eu-west-1.vpce-svc-0123456789abcdef0' },
      /need snowflakePrivateLink=true/],
    [{ secretName: 'x', vpc: 'new', snowflakePrivateLink: 'true', snowflakePrivateLinkService: 'com.amazonaws.vpce.eu-west-1.vpce-svc-0123456789abcdef0' },
      /a new endpoint needs snowflakePrivateLinkHosts/],
    [{ secretName: 'x', vpc: 'new', snowflakePrivateLink: 'true', snowflakePrivateLinkService: 'vpce-svc-0123456789abcdef0' },
      /snowflakePrivateLinkService: .* is not a VPC endpoint service name/],
    [{ secretName: 'x', vpc: 'new', snowflakePrivateLink: 'true', snowflakePrivateLinkHosts: 'myorg-myacct.snowflakecomputing.com' },
      /snowflakePrivateLinkHosts: "myorg-myacct.snowflakecomputing.com" is not a host under privatelink.snowflakecomputing.com[\s\S]*needs the endpoint they resolve to/],
    [{ secretName: 'x', vpc: 'new', snowflakePrivateLink: 'true',
      snowflakePrivateLinkService: 'com.amazonaws.vpce.eu-west-1.vpce-svc-0123456789abcdef0',
      snowflakePrivateLinkEndpointDns: 'vpce-0123456789abcdef0-abcdefgh.vpce-svc-0123456789abcdef0.eu-west-1.vpce.amazonaws.com',
      snowflakePrivateLinkHosts: 'myorg-myacct.privatelink.snowflakecomputing.com' }, /exclude each other/],
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
      runTimeoutMinutes: 240,
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
      runTimeoutMinutes: 240,
    });
  });

  test('run_timeout_minutes: the largest of [settings] and the pipelines', () => {
    const file = (settings: string, a: string, b: string) => tempPipelineConfig(
      `[settings]\n${settings}\n[pipelines.a]\n${a}\n[pipelines.b]\n${b}\n`);
    expect(readPipelineConfig(file('run_timeout_minutes = 60', '', '')).runTimeoutMinutes).toBe(60);
    expect(readPipelineConfig(file('run_timeout_minutes = 60', 'run_timeout_minutes = 90', 'run_timeout_minutes = 30')).runTimeoutMinutes).toBe(90);
    expect(readPipelineConfig(file('', 'run_timeout_minutes = 5', '')).runTimeoutMinutes).toBe(5);
    expect(readPipelineConfig(file('', '', '')).runTimeoutMinutes).toBe(240);
  });

  test.each([
    ['[settings]\npoll_seconds = 1\n', /no \[pipelines.<name>\] table/],
    ['[pipelines.a]\nglue_jobs = "one-job"\n', /glue_jobs must be an array/],
    ['[pipelines.a]\nglue_jobs = [""]\n', /glue_jobs\[0\] must be a non-empty string/],
    ['[pipelines.a]\n[[pipelines.a.iceberg_tables]]\ntable = "T"\n', /iceberg_tables\[0\].glue_database/],
    ['[pipelines.a\n', /cannot read the pipeline config/],
    ['[settings]\nrun_timeout_minutes = 4\n[pipelines.a]\n', /settings.run_timeout_minutes must be a whole number of minutes from 5 to 1440, got 4/],
    ['[pipelines.a]\nrun_timeout_minutes = 1441\n', /pipelines.a.run_timeout_minutes must be .* got 1441/],
    ['[pipelines.a]\nrun_timeout_minutes = "60"\n', /run_timeout_minutes must be/],
    ['[pipelines.a]\nrun_timeout_minutes = 60.5\n', /run_timeout_minutes must be/],
  ])('rejects %j', (toml, message) => {
    expect(() => readPipelineConfig(tempPipelineConfig(toml))).toThrow(message);
  });
});
