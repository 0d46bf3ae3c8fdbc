// Least privilege: the exact policy of every role the stack creates, in both auth modes.

import { FINALIZE, STEPS } from '../lib/step-lambda';
import { ACCOUNT, KEYLESS, REGION, allStatements, glueArn, resources, roleStatements, synth, Synth, tempPipelineConfig } from './helpers';

const SECRET_BY_NAME = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:postetl/snowflake-??????';
const XRAY = { Action: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'], Effect: 'Allow', Resource: '*' };

const stepOf = (s: Synth, stepId: string) => (stepId === 'Finalize' ? s.stack.finalize : s.stack.steps[stepId]);

/** The statements every step role has: write to its own log group, send traces. */
function base(s: Synth, stepId: string): unknown[] {
  return [
    {
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Effect: 'Allow',
      Resource: { 'Fn::GetAtt': [s.id(stepOf(s, stepId).logGroup), 'Arn'] },
    },
    XRAY,
  ];
}

/** Publish to the alert topic: the topic, and its key for the two calls SNS makes. */
const publishAlert = (s: Synth) => [
  { Action: 'sns:Publish', Effect: 'Allow', Resource: { Ref: s.id(s.stack.alertTopic) } },
  { Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [s.id(s.stack.alertKey), 'Arn'] } },
];

const GET_WEB_IDENTITY_TOKEN = {
  Action: 'sts:GetWebIdentityToken',
  Effect: 'Allow',
  Resource: '*',
  Condition: {
    'ForAllValues:StringEquals': { 'sts:IdentityTokenAudience': 'snowflakecomputing.com' },
    'StringEquals': { 'sts:SigningAlgorithm': 'ES384' },
    'NumericLessThanEquals': { 'sts:DurationSeconds': 900 },
  },
};
const SNOWFLAKE_ROLES = [...STEPS.filter((x) => x.snowflake).map((x) => x.id), FINALIZE.id];

const getSecret = (resource: unknown) => ({ Action: 'secretsmanager:GetSecretValue', Effect: 'Allow', Resource: resource });

function expectLambdaTrustOnly(s: Synth, roleId: string) {
  const role = s.json.Resources[roleId].Properties;
  expect(role.AssumeRolePolicyDocument.Statement).toEqual([
    { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
  ]);
  expect(role.ManagedPolicyArns).toBeUndefined();
  expect(role.Policies).toBeUndefined();
}

describe('secret mode (secret by name)', () => {
  let s: Synth;
  beforeAll(() => {
    s = synth();
  });

  test('plan: its logs, X-Ray, its own executions (one run per pipeline, the last successful one), glue:GetJobRun on the configured jobs, glue:GetTable on the configured tables; no secret', () => {
    const roleId = s.id(s.stack.steps.Plan.role);
    expectLambdaTrustOnly(s, roleId);
    const machine = `${s.stack.stackName}-post-etl`;
    expect(roleStatements(s, roleId)).toEqual([
      ...base(s, 'Plan'),
      { Action: 'states:ListExecutions', Effect: 'Allow', Resource: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${machine}` },
      { Action: 'states:DescribeExecution', Effect: 'Allow', Resource: `arn:aws:states:${REGION}:${ACCOUNT}:execution:${machine}:*` },
      { Action: 'glue:GetJobRun', Effect: 'Allow', Resource: glueArn('job/orders-to-iceberg') },
      {
        Action: 'glue:GetTable',
        Effect: 'Allow',
        Resource: [glueArn('catalog'), glueArn('database/lake'), glueArn('table/lake/customers'), glueArn('table/lake/orders')],
      },
    ]);
    expect(Object.values(resources(s, 'AWS::StepFunctions::StateMachine'))[0].Properties.StateMachineName).toEqual(machine);
  });

  test.each(['Warehouse', 'RunMerge', 'DqCheck', 'RefreshMarts'])('%s: its logs, X-Ray, GetSecretValue on the secret only', (stepId) => {
    const roleId = s.id(s.stack.steps[stepId].role);
    expectLambdaTrustOnly(s, roleId);
    expect(roleStatements(s, roleId)).toEqual([...base(s, stepId), getSecret(SECRET_BY_NAME)]);
  });

  test('refresh-iceberg: also glue:GetTable on the catalog, the configured databases and tables', () => {
    const roleId = s.id(s.stack.steps.RefreshIceberg.role);
    expectLambdaTrustOnly(s, roleId);
    expect(roleStatements(s, roleId)).toEqual([
      ...base(s, 'RefreshIceberg'),
      getSecret(SECRET_BY_NAME),
      {
        Action: 'glue:GetTable',
        Effect: 'Allow',
        Resource: [glueArn('catalog'), glueArn('database/lake'), glueArn('table/lake/customers'), glueArn('table/lake/orders')],
      },
    ]);
  });

  test('the state machine: invoke the six functions (and their versions), publish to its topic, logs and X-Ray', () => {
    const roleId = s.id(s.stack.stateMachine.role);
    const role = s.json.Resources[roleId].Properties;
    expect(role.AssumeRolePolicyDocument.Statement).toEqual([{
      Action: 'sts:AssumeRole',
      Effect: 'Allow',
      Principal: { Service: 'states.amazonaws.com' },
      // Only Step Functions acting for this account's state machines (confused-deputy guard).
      Condition: {
        ArnLike: { 'aws:SourceArn': 'arn:aws:states:eu-west-1:123456789012:stateMachine:*' },
        StringEquals: { 'aws:SourceAccount': '123456789012' },
      },
    }]);
    expect(role.ManagedPolicyArns).toBeUndefined();
    const fnIds = STEPS.map((spec) => s.id(s.stack.steps[spec.id].function)).sort();
    expect(roleStatements(s, roleId)).toEqual([
      {
        // Step Functions' vended log delivery and X-Ray take no resource-level permissions.
        Action: [
          'logs:CreateLogDelivery', 'logs:DeleteLogDelivery', 'logs:DescribeLogGroups', 'logs:DescribeResourcePolicies',
          'logs:GetLogDelivery', 'logs:ListLogDeliveries', 'logs:PutResourcePolicy', 'logs:UpdateLogDelivery',
          'xray:GetSamplingRules', 'xray:GetSamplingTargets', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments',
        ],
        Effect: 'Allow',
        Resource: '*',
      },
      {
        Action: 'lambda:InvokeFunction',
        Effect: 'Allow',
        Resource: [
          ...fnIds.map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] })),
          ...fnIds.map((id) => ({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [id, 'Arn'] }, ':*']] })),
        ],
      },
      ...publishAlert(s),
    ]);
  });

  test('finalize: its logs, X-Ray, the secret, its state machine\'s executions and their history, the alert topic, its dead-letter queue', () => {
    const roleId = s.id(s.stack.finalize.role);
    expectLambdaTrustOnly(s, roleId);
    const machine = `${s.stack.stackName}-post-etl`;
    expect(roleStatements(s, roleId)).toEqual([
      ...base(s, 'Finalize'),
      getSecret(SECRET_BY_NAME),
      {
        Action: ['states:DescribeExecution', 'states:GetExecutionHistory'],
        Effect: 'Allow',
        Resource: `arn:aws:states:${REGION}:${ACCOUNT}:execution:${machine}:*`,
      },
      ...publishAlert(s),
      { Action: 'sqs:SendMessage', Effect: 'Allow', Resource: { 'Fn::GetAtt': [s.id(s.stack.node.findChild('FinalizeDeadLetterQueue')), 'Arn'] } },
    ]);
  });

  test('the EventBridge target role may only start this state machine', () => {
    const roles = Object.entries(resources(s, 'AWS::IAM::Role')).filter(([, r]) =>
      JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes('events.amazonaws.com'));
    expect(roles).toHaveLength(1);
    expect(roleStatements(s, roles[0][0])).toEqual([
      { Action: 'states:StartExecution', Effect: 'Allow', Resource: { Ref: s.id(s.stack.stateMachine) } },
    ]);
  });

  test('no other role, no wildcard action allowed, no secret access outside the five Snowflake steps', () => {
    // six step roles, finalize's, the state machine's, the EventBridge target's
    expect(Object.keys(resources(s, 'AWS::IAM::Role'))).toHaveLength(9);
    for (const st of (allStatements(s) as any[]).filter((x) => x.Effect === 'Allow')) {
      for (const action of [st.Action].flat()) expect(action).not.toMatch(/\*/);
    }
    const withSecret = [...STEPS, FINALIZE].filter((spec) =>
      JSON.stringify(roleStatements(s, s.id(stepOf(s, spec.id).role))).includes('secretsmanager')).map((x) => x.binary);
    expect(withSecret).toEqual(['warehouse', 'refresh-iceberg', 'run-merge', 'dq-check', 'refresh-marts', 'finalize']);
  });

  test('Glue permissions follow the pipeline config', () => {
    const config = tempPipelineConfig([
      '[pipelines.a]', 'glue_jobs = ["job-a"]',
      '[[pipelines.a.iceberg_tables]]', 'table = "L.R.A"', 'glue_database = "db1"', 'glue_table = "a"', 'catalog = "glue"',
      '[pipelines.b]', 'glue_jobs = ["job-b"]',
      '[[pipelines.b.iceberg_tables]]', 'table = "L.R.B"', 'glue_database = "db2"', 'glue_table = "b"', 'catalog = "glue"',
    ].join('\n'));
    const t = synth({ pipelineConfigPath: config });
    expect(roleStatements(t, t.id(t.stack.steps.Plan.role))).toContainEqual(
      { Action: 'glue:GetJobRun', Effect: 'Allow', Resource: [glueArn('job/job-a'), glueArn('job/job-b')] });
    expect(roleStatements(t, t.id(t.stack.steps.RefreshIceberg.role))).toContainEqual({
      Action: 'glue:GetTable',
      Effect: 'Allow',
      Resource: [glueArn('catalog'), glueArn('database/db1'), glueArn('database/db2'), glueArn('table/db1/a'), glueArn('table/db2/b')],
    });
  });
});

describe('secret mode (secret by ARN, customer-managed key)', () => {
  const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/postetl/snowflake-AbC123';
  const key = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

  test('GetSecretValue on exactly that ARN, kms:Decrypt on the key through Secrets Manager only', () => {
    const s = synth({ secretArn: arn, secretKmsKeyArn: key });
    for (const stepId of ['Warehouse', 'RefreshIceberg', 'RunMerge', 'DqCheck', 'RefreshMarts']) {
      const statements = roleStatements(s, s.id(s.stack.steps[stepId].role));
      expect(statements).toContainEqual(getSecret(arn));
      expect(statements).toContainEqual({
        Action: 'kms:Decrypt',
        Effect: 'Allow',
        Resource: key,
        Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } },
      });
    }
    const plan = JSON.stringify(roleStatements(s, s.id(s.stack.steps.Plan.role)));
    expect(plan).not.toMatch(/secretsmanager:|kms:/);
  });
});

describe('keyless mode (the outbound JWT, the default)', () => {
  let s: Synth;
  let secretMode: Synth;
  beforeAll(() => {
    s = synth(KEYLESS);
    secretMode = synth();
  });

  const notAlertKey = (x: Synth) => (allStatements(x) as any[])
    .filter((st) => JSON.stringify(st.Resource) !== JSON.stringify({ 'Fn::GetAtt': [x.id(x.stack.alertKey), 'Arn'] }));

  test('no secret permission anywhere, no extension layer, SNOWFLAKE_AUTH=workload_identity', () => {
    expect(JSON.stringify(allStatements(s))).not.toMatch(/secretsmanager/);
    // kms only for the alert topic's key (its own policy, and publishing).
    const kms = notAlertKey(s).filter((st) => JSON.stringify(st.Action).includes('kms:') && !st.Principal?.AWS?.['Fn::Join'] && !st.Sid);
    expect(kms).toEqual([]);
    for (const fn of Object.values(resources(s, 'AWS::Lambda::Function'))) {
      const vars = fn.Properties.Environment.Variables;
      // Plan never talks to Snowflake: its config path is all it gets.
      if (Object.keys(vars).length === 1) {
        expect(vars).toEqual({ POSTETL_CONFIG: '/opt/postetl/pipelines.toml' });
        continue;
      }
      expect(vars.SNOWFLAKE_AUTH).toBe('workload_identity');
      expect(vars.POSTETL_SECRET_ID).toBeUndefined();
      expect(Object.keys(vars).filter((k) => /SECRETS/.test(k))).toEqual([]);
      expect(JSON.stringify(fn.Properties.Layers)).not.toMatch(/Parameters-and-Secrets/);
    }
    for (const spec of [...STEPS, FINALIZE]) {
      const statements = roleStatements(s, s.id(stepOf(s, spec.id).role));
      expect(statements.slice(0, 2)).toEqual(base(s, spec.id));
    }
    s.template.resourceCountIs('AWS::SecretsManager::Secret', 0);
  });

  test('each Snowflake role: its secret-mode policy without the secret statements, plus exactly one sts:GetWebIdentityToken', () => {
    const withoutSecret = (x: Synth, stepId: string) => (roleStatements(x, x.id(stepOf(x, stepId).role)) as any[])
      .filter((st) => !/^(secretsmanager|kms):/.test(String(st.Action)) || /kms:Decrypt.*GenerateDataKey/.test(JSON.stringify(st.Action)));
    for (const spec of [...STEPS, FINALIZE]) {
      const statements = roleStatements(s, s.id(stepOf(s, spec.id).role)) as any[];
      // The same construct ids in both modes, so the same logical ids.
      expect([spec.id, statements.filter((st) => st.Action !== 'sts:GetWebIdentityToken')])
        .toEqual([spec.id, withoutSecret(secretMode, spec.id)]);
      expect([spec.id, statements.filter((st) => JSON.stringify(st).includes('sts:'))])
        .toEqual([spec.id, SNOWFLAKE_ROLES.includes(spec.id) ? [GET_WEB_IDENTITY_TOKEN] : []]);
    }
  });

  test('plan gets no STS permission; no other STS statement anywhere', () => {
    expect(JSON.stringify(roleStatements(s, s.id(s.stack.steps.Plan.role)))).not.toMatch(/sts:/);
    const sts = (allStatements(s) as any[]).filter((st) => JSON.stringify(st.Action).includes('sts:') && !st.Principal);
    expect(sts).toEqual(Array(6).fill(GET_WEB_IDENTITY_TOKEN));
  });

  test('the role ARNs to register as workload identities are stack outputs (finalize too)', () => {
    const outputs = s.json.Outputs ?? {};
    for (const spec of [...STEPS.filter((x) => x.snowflake), FINALIZE]) {
      expect(outputs[`${spec.id}RoleArn`].Value).toEqual({ 'Fn::GetAtt': [s.id(stepOf(s, spec.id).role), 'Arn'] });
    }
    expect(outputs.PlanRoleArn).toBeUndefined();
    expect(Object.keys(secretMode.json.Outputs ?? {}).filter((k) => k.endsWith('RoleArn'))).toEqual([]);
  });
});

describe('keyless mode with the signed request (snowflakeWifSignedRequest, opt-in)', () => {
  let s: Synth;
  let keyless: Synth;
  beforeAll(() => {
    s = synth({ ...KEYLESS, snowflakeWifSignedRequest: 'true' });
    keyless = synth(KEYLESS);
  });

  test('each role: its default keyless policy without the GetWebIdentityToken statement; nothing added', () => {
    // The function signs STS GetCallerIdentity but never calls STS (Snowflake does), and that call
    // needs no permission.
    for (const spec of [...STEPS, FINALIZE]) {
      expect([spec.id, roleStatements(s, s.id(stepOf(s, spec.id).role))]).toEqual([spec.id,
        (roleStatements(keyless, keyless.id(stepOf(keyless, spec.id).role)) as any[]).filter((st) => st.Action !== 'sts:GetWebIdentityToken')]);
    }
  });

  test('no STS permission in any identity policy; trust policies only let services assume roles', () => {
    for (const p of Object.values(resources(s, 'AWS::IAM::Policy'))) {
      expect(JSON.stringify(p.Properties.PolicyDocument)).not.toMatch(/sts:/);
    }
    for (const [id, role] of Object.entries(resources(s, 'AWS::IAM::Role'))) {
      expect(role.Properties.Policies).toBeUndefined();
      for (const st of role.Properties.AssumeRolePolicyDocument.Statement) {
        expect([id, st.Action, Object.keys(st.Principal)]).toEqual([id, 'sts:AssumeRole', ['Service']]);
      }
    }
  });

  test('secret mode never grants GetWebIdentityToken, and the keyless-only options fail its synth', () => {
    expect(JSON.stringify(allStatements(synth()))).not.toMatch(/GetWebIdentityToken|sts:IdentityTokenAudience/);
    expect(() => synth({ snowflakeWifSignedRequest: 'true' })).toThrow(/snowflakeWifSignedRequest: applies to authMode keyless only/);
    expect(() => synth({ snowflakeWifOutboundToken: 'true' })).toThrow(/snowflakeWifOutboundToken: applies to authMode keyless only/);
  });
});

describe('the Snowflake integration role', () => {
  const snowflakeUser = 'arn:aws:iam::999988887777:user/abc1-s-xyz';

  test('absent unless asked for', () => {
    expect(JSON.stringify(synth().json)).not.toMatch(/sts:ExternalId/);
  });

  test('trusts Snowflake\'s IAM user with the external id; reads the lake prefix and the Glue catalog', () => {
    const s = synth({
      snowflakeIamUserArn: snowflakeUser,
      snowflakeExternalId: 'MYACCOUNT_SFCRole=2_abcdefg=',
      lakeBucket: 'postetl-lake',
      lakePrefix: '/warehouse', // normalised to warehouse/: never warehouse-old/ too
    });
    const roles = Object.entries(resources(s, 'AWS::IAM::Role')).filter(([, r]) =>
      JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes(snowflakeUser));
    expect(roles).toHaveLength(1);
    const [roleId, role] = roles[0];
    expect(role.Properties.AssumeRolePolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [{
        Action: 'sts:AssumeRole',
        Effect: 'Allow',
        Principal: { AWS: snowflakeUser },
        Condition: { StringEquals: { 'sts:ExternalId': 'MYACCOUNT_SFCRole=2_abcdefg=' } },
      }],
    });
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    expect(roleStatements(s, roleId)).toEqual([
      { Action: ['s3:GetObject', 's3:GetObjectVersion'], Effect: 'Allow', Resource: 'arn:aws:s3:::postetl-lake/warehouse/*' },
      {
        Action: 's3:ListBucket',
        Effect: 'Allow',
        Resource: 'arn:aws:s3:::postetl-lake',
        Condition: { StringLike: { 's3:prefix': ['warehouse/*'] } },
      },
      { Action: 's3:GetBucketLocation', Effect: 'Allow', Resource: 'arn:aws:s3:::postetl-lake' },
      {
        Action: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetTables'],
        Effect: 'Allow',
        Resource: [glueArn('catalog'), glueArn('database/lake'), glueArn('table/lake/*')],
      },
    ]);
    expect(s.json.Outputs!.SnowflakeIntegrationRoleArn.Value).toEqual({ 'Fn::GetAtt': [roleId, 'Arn'] });
    expect(role.Properties.RoleName).toBeUndefined();
  });

  test('an external volume and a catalog integration (two external ids), under a fixed role name', () => {
    const s = synth({
      snowflakeIamUserArn: snowflakeUser,
      snowflakeExternalId: 'VOLUME_SFCRole=1_a=,GLUE_SFCRole=1_b=',
      snowflakeRoleName: 'postetl-snowflake',
      lakeBucket: 'postetl-lake',
    });
    s.template.hasResourceProperties('AWS::IAM::Role', {
      RoleName: 'postetl-snowflake',
      AssumeRolePolicyDocument: {
        Statement: [{
          Action: 'sts:AssumeRole',
          Effect: 'Allow',
          Principal: { AWS: snowflakeUser },
          Condition: { StringEquals: { 'sts:ExternalId': ['VOLUME_SFCRole=1_a=', 'GLUE_SFCRole=1_b='] } },
        }],
      },
    });
    // No prefix: the whole bucket, and no prefix condition on listing.
    const roleId = Object.entries(resources(s, 'AWS::IAM::Role')).find(([, r]) => r.Properties.RoleName === 'postetl-snowflake')![0];
    expect(roleStatements(s, roleId)).toEqual([
      { Action: ['s3:GetObject', 's3:GetObjectVersion'], Effect: 'Allow', Resource: 'arn:aws:s3:::postetl-lake/*' },
      { Action: ['s3:GetBucketLocation', 's3:ListBucket'], Effect: 'Allow', Resource: 'arn:aws:s3:::postetl-lake' },
      {
        Action: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetTables'],
        Effect: 'Allow',
        Resource: [glueArn('catalog'), glueArn('database/lake'), glueArn('table/lake/*')],
      },
    ]);
  });
});
