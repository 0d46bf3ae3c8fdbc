// The stack's resources: functions, config layer, state machine, trigger, topic and alarms.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { Annotations as CoreAnnotations, App } from 'aws-cdk-lib';
import { Annotations as AssertAnnotations, Match, Template } from 'aws-cdk-lib/assertions';
import { configFromContext, REPO_DIR } from '../lib/config';
import { CONFIG_PATH_IN_LAMBDA, DEFINITION_PATH, PostEtlStack } from '../lib/postetl-stack';
import { FINALIZE, STEPS } from '../lib/step-lambda';
import { KEYLESS, listFiles, resources, synth, Synth, tempPipelineConfig } from './helpers';

const PIPELINES_TOML = path.join(REPO_DIR, 'statemachine', 'pipelines.toml');
const EXTENSION_LAYER = /^arn:aws:lambda:eu-west-1:\d{12}:layer:AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:\d+$/;

let s: Synth;
beforeAll(() => {
  s = synth();
});

const fnOf = (stepId: string, t: Synth = s) => t.json.Resources[t.id((stepId === 'Finalize' ? t.stack.finalize : t.stack.steps[stepId]).function)];
const ALL = [...STEPS, FINALIZE];

describe('step functions', () => {
  test('seven Rust functions, one per workspace binary: six steps and finalize', () => {
    expect(Object.keys(resources(s, 'AWS::Lambda::Function'))).toHaveLength(7);
    expect(STEPS.map((x) => x.binary)).toEqual(['plan', 'warehouse', 'refresh-iceberg', 'run-merge', 'dq-check', 'refresh-marts']);
    expect(FINALIZE.binary).toBe('finalize');
  });

  test.each([
    ['Plan', 128, 30],
    ['Warehouse', 128, 120],
    ['RefreshIceberg', 128, 300],
    ['RunMerge', 256, 900],
    ['DqCheck', 256, 900],
    ['RefreshMarts', 128, 900],
    ['Finalize', 128, 300],
  ])('%s: arm64, provided.al2023, %i MB, %i s, JSON logs to its own group, active tracing', (stepId, memory, timeout) => {
    const step = stepId === 'Finalize' ? s.stack.finalize : s.stack.steps[stepId];
    expect(fnOf(stepId).Properties).toMatchObject({
      Architectures: ['arm64'],
      Runtime: 'provided.al2023',
      Handler: 'bootstrap',
      MemorySize: memory,
      Timeout: timeout,
      LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: s.id(step.logGroup) } },
      TracingConfig: { Mode: 'Active' },
      Role: { 'Fn::GetAtt': [s.id(step.role), 'Arn'] },
    });
  });

  test('every log group keeps a month', () => {
    const groups = resources(s, 'AWS::Logs::LogGroup');
    expect(Object.keys(groups)).toHaveLength(8); // seven functions and the state machine
    for (const g of Object.values(groups)) expect(g.Properties.RetentionInDays).toBe(30);
  });

  test('the Parameters and Secrets extension on the Snowflake steps only', () => {
    for (const spec of ALL) {
      const props = fnOf(spec.id).Properties;
      const extension = (props.Layers as unknown[]).filter((l) => typeof l === 'string' && EXTENSION_LAYER.test(l));
      expect([spec.id, extension.length]).toEqual([spec.id, spec.snowflake ? 1 : 0]);
      expect([spec.id, props.Environment.Variables.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT])
        .toEqual([spec.id, spec.snowflake ? '2773' : undefined]);
    }
  });
});

describe('config layer', () => {
  test('every function has the layer and POSTETL_CONFIG at /opt/postetl/pipelines.toml', () => {
    const layers = resources(s, 'AWS::Lambda::LayerVersion');
    expect(Object.keys(layers)).toHaveLength(1);
    const [layerId, layer] = Object.entries(layers)[0];
    expect(layer.Properties).toMatchObject({
      CompatibleArchitectures: ['arm64'],
      CompatibleRuntimes: ['provided.al2023'],
    });
    expect(CONFIG_PATH_IN_LAMBDA).toBe('/opt/postetl/pipelines.toml');
    for (const spec of ALL) {
      const props = fnOf(spec.id).Properties;
      expect(props.Layers).toContainEqual({ Ref: layerId });
      expect(props.Environment.Variables.POSTETL_CONFIG).toBe('/opt/postetl/pipelines.toml');
    }
  });

  test('the layer holds postetl/pipelines.toml and postetl/sql/ as in statemachine/', () => {
    const layer = Object.values(resources(s, 'AWS::Lambda::LayerVersion'))[0];
    const staged = path.join(s.app.outdir, layer.Metadata!['aws:asset:path']);
    const sqlDir = path.join(REPO_DIR, 'statemachine', 'sql');
    expect(listFiles(staged)).toEqual([
      'postetl/pipelines.toml',
      ...listFiles(sqlDir).map((f) => `postetl/sql/${f}`),
    ].sort());
    expect(fs.readFileSync(path.join(staged, 'postetl', 'pipelines.toml'), 'utf8'))
      .toBe(fs.readFileSync(PIPELINES_TOML, 'utf8'));
    for (const f of listFiles(sqlDir)) {
      expect(fs.readFileSync(path.join(staged, 'postetl', 'sql', f), 'utf8'))
        .toBe(fs.readFileSync(path.join(sqlDir, f), 'utf8'));
    }
  });

  test('a config under another name is shipped as pipelines.toml, with its own sql/', () => {
    const config = tempPipelineConfig(
      '[pipelines.a]\nglue_jobs = ["job-a"]\n[[pipelines.a.merges]]\nname = "m"\nsql_file = "sql/m.sql"\n',
      { 'sql/m.sql': 'MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE' },
    );
    const other = synth({ pipelineConfigPath: config });
    const layer = Object.values(resources(other, 'AWS::Lambda::LayerVersion'))[0];
    const staged = path.join(other.app.outdir, layer.Metadata!['aws:asset:path']);
    expect(listFiles(staged)).toEqual(['postetl/pipelines.toml', 'postetl/sql/m.sql']);
  });

  test('a sql_file the layer would not ship fails the synth', () => {
    const outside = tempPipelineConfig('[pipelines.a]\nglue_jobs = ["j"]\n[[pipelines.a.marts]]\nname = "x"\nkind = "sql"\nsql_file = "../x.sql"\n');
    expect(() => synth({ pipelineConfigPath: outside })).toThrow(/sql_file "\.\.\/x\.sql" must name a file in the sql\/ directory/);
    const missing = tempPipelineConfig('[pipelines.a]\nglue_jobs = ["j"]\n[[pipelines.a.merges]]\nname = "m"\nsql_file = "sql/none.sql"\n');
    expect(() => synth({ pipelineConfigPath: missing })).toThrow(/sql_file "sql\/none\.sql"/);
  });
});

describe('secrets stay out of the environment', () => {
  const SECRET_LOOKING_VALUE = /BEGIN|PRIVATE KEY|^[A-Za-z0-9+/=._-]{40,}$|"privateKey"|"passphrase"|"token"/;
  // Every variable a function may have: none of them can hold a credential.
  const ALLOWED = new Set([
    'POSTETL_CONFIG', 'POSTETL_SECRET_ID', 'SNOWFLAKE_AUTH', 'SNOWFLAKE_BASE_URL', 'SNOWFLAKE_PRIVATE_LINK',
    'SNOWFLAKE_ENABLE_AWS_WIF_OUTBOUND_TOKEN', 'POSTETL_ALERT_TOPIC_ARN',
    'SNOWFLAKE_ACCOUNT', 'SNOWFLAKE_USER', 'SNOWFLAKE_ROLE', 'SNOWFLAKE_WAREHOUSE', 'SNOWFLAKE_DATABASE', 'SNOWFLAKE_SCHEMA',
    'PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED', 'PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE',
    'PARAMETERS_SECRETS_EXTENSION_HTTP_PORT', 'PARAMETERS_SECRETS_EXTENSION_LOG_LEVEL',
    'PARAMETERS_SECRETS_EXTENSION_MAX_CONNECTIONS', 'SECRETS_MANAGER_TIMEOUT_MILLIS', 'SECRETS_MANAGER_TTL',
    'SSM_PARAMETER_STORE_TIMEOUT_MILLIS', 'SSM_PARAMETER_STORE_TTL',
  ]);

  const checkEnvironment = (t: Synth) => {
    for (const [id, fn] of Object.entries(resources(t, 'AWS::Lambda::Function'))) {
      for (const [name, value] of Object.entries(fn.Properties.Environment.Variables as Record<string, unknown>)) {
        expect([id, name, ALLOWED.has(name)]).toEqual([id, name, true]);
        if (name === 'POSTETL_ALERT_TOPIC_ARN') {
          // finalize's topic: a reference to the stack's own topic, nothing else.
          expect(value).toEqual({ Ref: t.id(t.stack.alertTopic) });
          continue;
        }
        expect(typeof value).toBe('string'); // a literal, never a resolved secret reference
        expect(value).not.toMatch(SECRET_LOOKING_VALUE);
        expect(value).not.toMatch(/\{\{resolve:/);
      }
    }
    // Nowhere in the template either: no dynamic reference, no credential field of the secret.
    expect(JSON.stringify(t.json)).not.toMatch(/resolve:secretsmanager|resolve:ssm-secure|PRIVATE KEY|privateKey|passphrase|\btoken\b/i);
  };

  test('secret by name: POSTETL_SECRET_ID is the secret name on every function that talks to Snowflake; plan gets its config path only', () => {
    checkEnvironment(s);
    for (const spec of STEPS.filter((x) => x.snowflake)) {
      expect(fnOf(spec.id).Properties.Environment.Variables.POSTETL_SECRET_ID).toBe('postetl/snowflake');
    }
    expect(fnOf('Plan').Properties.Environment.Variables).toEqual({ POSTETL_CONFIG: '/opt/postetl/pipelines.toml' });
  });

  test('secret by ARN: POSTETL_SECRET_ID is the ARN', () => {
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/postetl/snowflake-AbC123';
    const t = synth({ secretArn: arn });
    checkEnvironment(t);
    for (const spec of [...STEPS.filter((x) => x.snowflake), FINALIZE]) {
      expect(fnOf(spec.id, t).Properties.Environment.Variables.POSTETL_SECRET_ID).toBe(arn);
    }
  });

  test('keyless: only the connection settings, none of them a credential', () => {
    checkEnvironment(synth(KEYLESS));
    checkEnvironment(synth({ ...KEYLESS, snowflakeWifSignedRequest: 'true' }));
  });

  test('no secret is created, only referenced', () => {
    s.template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    s.template.resourceCountIs('AWS::SecretsManager::SecretTargetAttachment', 0);
  });
});

describe('auth modes', () => {
  const KEYLESS_VARS = ['SNOWFLAKE_AUTH', 'SNOWFLAKE_ACCOUNT', 'SNOWFLAKE_USER', 'SNOWFLAKE_ROLE', 'SNOWFLAKE_WAREHOUSE',
    'SNOWFLAKE_DATABASE', 'SNOWFLAKE_SCHEMA'];
  const envOf = (t: Synth, stepId: string) =>
    t.json.Resources[t.id((stepId === 'Finalize' ? t.stack.finalize : t.stack.steps[stepId]).function)]
      .Properties.Environment.Variables as Record<string, string>;
  const KEYLESS_ENV = {
    POSTETL_CONFIG: '/opt/postetl/pipelines.toml',
    SNOWFLAKE_AUTH: 'workload_identity',
    SNOWFLAKE_ACCOUNT: 'myorg-myacct',
    SNOWFLAKE_USER: 'POSTETL_SVC',
    SNOWFLAKE_ROLE: 'POSTETL',
    SNOWFLAKE_WAREHOUSE: 'POSTETL_WH',
    SNOWFLAKE_DATABASE: 'ANALYTICS',
    SNOWFLAKE_SCHEMA: 'CORE',
  };

  test('keyless: exactly these variables on every function that talks to Snowflake, the outbound JWT by default; plan gets its config path only', () => {
    const t = synth(KEYLESS);
    expect(envOf(t, 'Plan')).toEqual({ POSTETL_CONFIG: '/opt/postetl/pipelines.toml' });
    for (const spec of STEPS.filter((x) => x.snowflake)) {
      expect([spec.id, envOf(t, spec.id)]).toEqual([spec.id, { ...KEYLESS_ENV, SNOWFLAKE_ENABLE_AWS_WIF_OUTBOUND_TOKEN: 'true' }]);
    }
    expect(envOf(t, 'Finalize')).toEqual({
      ...KEYLESS_ENV, SNOWFLAKE_ENABLE_AWS_WIF_OUTBOUND_TOKEN: 'true',
      POSTETL_ALERT_TOPIC_ARN: { Ref: t.id(t.stack.alertTopic) },
    });
  });

  test('keyless with snowflakeWifSignedRequest: SNOWFLAKE_ENABLE_AWS_WIF_OUTBOUND_TOKEN=false on every function, nothing else changed', () => {
    const t = synth({ ...KEYLESS, snowflakeWifSignedRequest: true });
    for (const spec of STEPS.filter((x) => x.snowflake)) {
      expect([spec.id, envOf(t, spec.id)]).toEqual([spec.id, { ...KEYLESS_ENV, SNOWFLAKE_ENABLE_AWS_WIF_OUTBOUND_TOKEN: 'false' }]);
    }
  });

  test('secret mode: no SNOWFLAKE_ENABLE_AWS_WIF_OUTBOUND_TOKEN', () => {
    for (const spec of ALL) {
      expect([spec.id, 'SNOWFLAKE_ENABLE_AWS_WIF_OUTBOUND_TOKEN' in envOf(s, spec.id)]).toEqual([spec.id, false]);
    }
  });

  test('keyless: no SNOWFLAKE_USER without snowflakeUser; base URL and private link as in secret mode', () => {
    const { snowflakeUser: _, ...withoutUser } = KEYLESS;
    const t = synth({
      ...withoutUser,
      snowflakeBaseUrl: 'https://myorg-myacct.privatelink.snowflakecomputing.com',
      snowflakePrivateLink: 'true',
      vpc: 'new',
    });
    for (const spec of STEPS.filter((x) => x.snowflake)) {
      expect([spec.id, envOf(t, spec.id)]).toEqual([spec.id, {
        POSTETL_CONFIG: '/opt/postetl/pipelines.toml',
        SNOWFLAKE_AUTH: 'workload_identity',
        SNOWFLAKE_ACCOUNT: 'myorg-myacct',
        SNOWFLAKE_ROLE: 'POSTETL',
        SNOWFLAKE_WAREHOUSE: 'POSTETL_WH',
        SNOWFLAKE_DATABASE: 'ANALYTICS',
        SNOWFLAKE_SCHEMA: 'CORE',
        SNOWFLAKE_ENABLE_AWS_WIF_OUTBOUND_TOKEN: 'true',
        SNOWFLAKE_BASE_URL: 'https://myorg-myacct.privatelink.snowflakecomputing.com',
        SNOWFLAKE_PRIVATE_LINK: 'true',
      }]);
    }
  });

  test('secret mode sets none of the keyless variables, even with the keyless keys in the context', () => {
    const { authMode: _, ...keylessSettings } = KEYLESS;
    for (const t of [s, synth(keylessSettings)]) {
      for (const spec of STEPS.filter((x) => x.snowflake)) {
        const vars = envOf(t, spec.id);
        expect([spec.id, Object.keys(vars).filter((k) => KEYLESS_VARS.includes(k))]).toEqual([spec.id, []]);
        expect(vars.POSTETL_SECRET_ID).toBe('postetl/snowflake');
      }
    }
  });

  test('authMode keypair (the old name), secret and the default give the same template', () => {
    const secret = synth({ authMode: 'secret' }).json;
    expect(synth({ authMode: 'keypair' }).json).toEqual(secret);
    expect(synth({ authMode: undefined }).json).toEqual(secret);
    expect(s.json).toEqual(secret); // cdk.json's own setting
  });
});

describe('state machine', () => {
  // The file with TimeoutSeconds from the config (240 minutes: statemachine/pipelines.toml sets none).
  const asl = JSON.parse(fs.readFileSync(DEFINITION_PATH, 'utf8'));
  const definition = JSON.stringify({ ...asl, TimeoutSeconds: 240 * 60 }, null, 2);

  test('Standard, the definition file with its TimeoutSeconds, every ${...} substituted by the function ARNs', () => {
    const substitutions: Record<string, unknown> = {
      AlertTopicArn: { Ref: s.id(s.stack.alertTopic) },
    };
    for (const spec of STEPS) {
      substitutions[spec.substitution] = { 'Fn::GetAtt': [s.id(s.stack.steps[spec.id].function), 'Arn'] };
    }
    s.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      DefinitionString: definition,
      DefinitionSubstitutions: Match.exact(substitutions),
    });
  });

  test('after substitution every task calls the right function and the alert goes to the topic', () => {
    const sm = Object.values(resources(s, 'AWS::StepFunctions::StateMachine'))[0].Properties;
    const rendered = (sm.DefinitionString as string).replace(/\$\{(\w+)\}/g, (_, key: string) => {
      const value = sm.DefinitionSubstitutions[key];
      expect(value).toBeDefined();
      return value['Fn::GetAtt'] ? `fn:${value['Fn::GetAtt'][0]}` : `topic:${value.Ref}`;
    });
    expect(rendered).not.toContain('${');
    const states: Record<string, any> = {};
    const collect = (machine: any) => {
      for (const [name, state] of Object.entries<any>(machine.States)) {
        states[name] = state;
        const inner = state.Iterator ?? state.ItemProcessor;
        if (inner) collect(inner);
      }
    };
    collect(JSON.parse(rendered));
    const fn = (stepId: string) => `fn:${s.id(s.stack.steps[stepId].function)}`;
    const expected: Record<string, string> = {
      Plan: fn('Plan'),
      ResumeWarehouse: fn('Warehouse'),
      SuspendWarehouse: fn('Warehouse'),
      SuspendAfterFailure: fn('Warehouse'),
      RefreshIcebergTable: fn('RefreshIceberg'),
      Merge: fn('RunMerge'),
      ResumeMerge: fn('RunMerge'),
      RefreshMarts: fn('RefreshMarts'),
      ResumeMarts: fn('RefreshMarts'),
    };
    for (const [state, target] of Object.entries(expected)) {
      expect([state, states[state].Parameters.FunctionName]).toEqual([state, target]);
    }
    const lambdaTasks = Object.entries(states).filter(([, st]) => st.Resource === 'arn:aws:states:::lambda:invoke');
    const dq = lambdaTasks.filter(([, st]) => st.Parameters.FunctionName === fn('DqCheck'));
    expect(dq.length).toBeGreaterThan(0);
    for (const [name, st] of lambdaTasks) {
      expect([name, st.Parameters.FunctionName]).toEqual([name, expect.stringMatching(/^fn:/)]);
    }
    expect(states.NotifyFailure.Parameters.TopicArn).toBe(`topic:${s.id(s.stack.alertTopic)}`);
  });

  test('TimeoutSeconds: the largest run_timeout_minutes of the config, in seconds; the rest of the file unchanged', () => {
    const config = tempPipelineConfig('[settings]\nrun_timeout_minutes = 45\n[pipelines.a]\nglue_jobs = ["j"]\n[pipelines.b]\nrun_timeout_minutes = 90\n');
    const t = synth({ pipelineConfigPath: config });
    const sm = Object.values(resources(t, 'AWS::StepFunctions::StateMachine'))[0].Properties;
    const rendered = JSON.parse(sm.DefinitionString);
    expect(rendered.TimeoutSeconds).toBe(5400);
    const { TimeoutSeconds: _a, ...rest } = rendered;
    const { TimeoutSeconds: _b, ...fileRest } = asl;
    expect(rest).toEqual(fileRest);
  });

  test('a generated log group name (the stack id\'s UUID): a stack created again after destroy does not collide', () => {
    const group = s.json.Resources[s.id(s.stack.node.findChild('StateMachineLogs'))].Properties;
    expect(group.LogGroupName).toEqual({
      'Fn::Join': ['', ['/aws/vendedlogs/states/PostEtl-post-etl-', { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] }]],
    });
  });

  test('logs ALL (without execution data) to its log group, X-Ray on', () => {
    const sm = Object.values(resources(s, 'AWS::StepFunctions::StateMachine'))[0].Properties;
    const logGroups = Object.entries(resources(s, 'AWS::Logs::LogGroup'))
      .filter(([, g]) => JSON.stringify(g.Properties.LogGroupName ?? '').includes('/aws/vendedlogs/states/'));
    expect(logGroups).toHaveLength(1);
    expect(sm.LoggingConfiguration).toEqual({
      Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [logGroups[0][0], 'Arn'] } } }],
      IncludeExecutionData: false,
      Level: 'ALL',
    });
    expect(sm.TracingConfiguration).toEqual({ Enabled: true });
  });
});

describe('trigger', () => {
  const glueRule = (t: Synth) => Object.values(resources(t, 'AWS::Events::Rule'))
    .filter((r) => r.Properties.EventPattern.source[0] === 'aws.glue');

  test('Glue Job State Change, SUCCEEDED, the configured jobs, this account only; the event itself is the input', () => {
    const rules = glueRule(s);
    expect(rules).toHaveLength(1);
    const rule = rules[0].Properties;
    expect(rule.EventPattern).toEqual({
      account: ['123456789012'],
      source: ['aws.glue'],
      'detail-type': ['Glue Job State Change'],
      detail: { state: ['SUCCEEDED'], jobName: ['orders-to-iceberg'] },
    });
    expect(rule.State).toBe('ENABLED');
    expect(rule.Targets).toHaveLength(1);
    const target = rule.Targets[0];
    expect(target.Arn).toEqual({ Ref: s.id(s.stack.stateMachine) });
    expect(target).not.toHaveProperty('Input');
    expect(target).not.toHaveProperty('InputPath');
    expect(target).not.toHaveProperty('InputTransformer');
  });

  test('an environment-agnostic stack pins the account it is deployed to', () => {
    const app = new App({ context: { ...JSON.parse(fs.readFileSync(path.join(REPO_DIR, 'cdk', 'cdk.json'), 'utf8')).context, 'aws:cdk:bundling-stacks': [] } });
    const stack = new PostEtlStack(app, 'PostEtl', { config: configFromContext(app.node) });
    CoreAnnotations.of(stack).acknowledgeWarning('postetl:noAlertSubscriber', 'not what this test is about');
    for (const rule of Object.values(Template.fromStack(stack).findResources('AWS::Events::Rule'))) {
      expect(rule.Properties.EventPattern.account).toEqual([{ Ref: 'AWS::AccountId' }]);
    }
  });

  test('a dead-letter queue and a retry policy on the target', () => {
    const queueId = s.id(s.stack.node.findChild('TriggerDeadLetterQueue'));
    const queue = s.json.Resources[queueId];
    expect(queue.Properties).toMatchObject({ MessageRetentionPeriod: 1209600, SqsManagedSseEnabled: true });
    const target = glueRule(s)[0].Properties.Targets[0];
    expect(target.DeadLetterConfig).toEqual({ Arn: { 'Fn::GetAtt': [queueId, 'Arn'] } });
    expect(target.RetryPolicy).toEqual({ MaximumEventAgeInSeconds: 7200, MaximumRetryAttempts: 8 });
    // EventBridge may send to the queue, for this rule only.
    const ruleId = s.id(s.stack.node.findChild('GlueJobSucceeded'));
    s.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId }],
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Action: 'sqs:SendMessage',
          Effect: 'Allow',
          Principal: { Service: 'events.amazonaws.com' },
          Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [ruleId, 'Arn'] } } },
        })]),
      },
    });
  });

  test('the job names come from the pipeline config: every pipeline, de-duplicated', () => {
    const config = tempPipelineConfig([
      '[pipelines.orders]', 'glue_jobs = ["orders-to-iceberg", "orders-backfill"]',
      '[pipelines.stock]', 'glue_jobs = ["stock-to-iceberg", "orders-to-iceberg"]',
      '[pipelines.manual]', 'glue_jobs = []',
    ].join('\n'));
    const t = synth({ pipelineConfigPath: config });
    const rule = glueRule(t)[0].Properties;
    expect(rule.EventPattern.detail.jobName).toEqual(['orders-backfill', 'orders-to-iceberg', 'stock-to-iceberg']);
  });
});

describe('alerts', () => {
  test('one topic; an email subscription only when alertEmail is set', () => {
    s.template.resourceCountIs('AWS::SNS::Topic', 1);
    s.template.resourceCountIs('AWS::SNS::Subscription', 0);
    const t = synth({ alertEmail: 'data-oncall@example.com' });
    t.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'data-oncall@example.com',
      TopicArn: { Ref: t.id(t.stack.alertTopic) },
    });
  });

  test('alarms on ExecutionsFailed, ExecutionsTimedOut, each function\'s Errors (finalize too) and both dead-letter queues, all to the topic', () => {
    const alarms = Object.values(resources(s, 'AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    expect(alarms).toHaveLength(11);
    const topic = { Ref: s.id(s.stack.alertTopic) };
    for (const a of alarms) {
      expect(a.AlarmActions).toEqual([topic]);
      expect(a).toMatchObject({
        Threshold: 1, EvaluationPeriods: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching', Period: 300,
      });
    }
    const smDimension = [{ Name: 'StateMachineArn', Value: { Ref: s.id(s.stack.stateMachine) } }];
    for (const metric of ['ExecutionsFailed', 'ExecutionsTimedOut']) {
      expect(alarms).toContainEqual(expect.objectContaining({
        Namespace: 'AWS/States', MetricName: metric, Dimensions: smDimension, Statistic: 'Sum',
      }));
    }
    for (const fn of [...STEPS.map((x) => s.stack.steps[x.id].function), s.stack.finalize.function]) {
      expect(alarms).toContainEqual(expect.objectContaining({
        Namespace: 'AWS/Lambda', MetricName: 'Errors', Statistic: 'Sum',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: s.id(fn) } }],
      }));
    }
    for (const queue of ['TriggerDeadLetterQueue', 'FinalizeDeadLetterQueue']) {
      expect(alarms).toContainEqual(expect.objectContaining({
        Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesVisible', Statistic: 'Maximum',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [s.id(s.stack.node.findChild(queue)), 'QueueName'] } }],
      }));
    }
  });

  test('ExecutionsTimedOut can happen: the definition has a TimeoutSeconds', () => {
    const sm = Object.values(resources(s, 'AWS::StepFunctions::StateMachine'))[0].Properties;
    expect(JSON.parse(sm.DefinitionString).TimeoutSeconds).toBeGreaterThan(0);
  });

  test('the topic: encrypted with the stack\'s own key (rotated), HTTPS only, CloudWatch alarms of this account may publish', () => {
    const keyId = s.id(s.stack.alertKey);
    const topic = s.json.Resources[s.id(s.stack.alertTopic)].Properties;
    expect(topic.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    const key = s.json.Resources[keyId].Properties;
    expect(key.EnableKeyRotation).toBe(true);
    const fromOurAlarms = {
      StringEquals: { 'aws:SourceAccount': '123456789012' },
      ArnLike: { 'aws:SourceArn': 'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:*' },
    };
    expect(key.KeyPolicy.Statement).toContainEqual({
      Sid: 'CloudWatchAlarmsPublishToTheAlertTopic', Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' },
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: '*', Condition: fromOurAlarms,
    });
    const policies = Object.values(resources(s, 'AWS::SNS::TopicPolicy'));
    expect(policies).toHaveLength(1);
    expect(policies[0].Properties.Topics).toEqual([{ Ref: s.id(s.stack.alertTopic) }]);
    expect(policies[0].Properties.PolicyDocument.Statement).toEqual([
      {
        Sid: 'AllowPublishThroughSSLOnly', Effect: 'Deny', Principal: '*', Action: 'sns:Publish',
        Resource: { Ref: s.id(s.stack.alertTopic) }, Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
      {
        Sid: 'CloudWatchAlarmsPublish', Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish',
        Resource: { Ref: s.id(s.stack.alertTopic) }, Condition: fromOurAlarms,
      },
    ]);
  });

  test('without alertEmail the synth warns that nobody receives the alerts', () => {
    const warned = synth({}, { keepWarnings: true });
    AssertAnnotations.fromStack(warned.stack).hasWarning('/PostEtl/AlertTopic', Match.stringLikeRegexp('alertEmail is not set: nobody receives'));
    const quiet = synth({ alertEmail: 'data-oncall@example.com' }, { keepWarnings: true });
    AssertAnnotations.fromStack(quiet.stack).hasNoWarning('*', Match.stringLikeRegexp('alertEmail'));
  });
});

describe('finalize', () => {
  const rule = () => Object.values(resources(s, 'AWS::Events::Rule')).filter((r) => r.Properties.EventPattern.source[0] === 'aws.states');

  test('an EventBridge rule on this state machine\'s executions that end FAILED, TIMED_OUT or ABORTED, this account only', () => {
    expect(rule()).toHaveLength(1);
    const props = rule()[0].Properties;
    expect(props.EventPattern).toEqual({
      account: ['123456789012'],
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [{ Ref: s.id(s.stack.stateMachine) }] },
    });
    expect(props.State).toBe('ENABLED');
    expect(props.Targets).toHaveLength(1);
    expect(props.Targets[0].Arn).toEqual({ 'Fn::GetAtt': [s.id(s.stack.finalize.function), 'Arn'] });
    expect(props.Targets[0]).not.toHaveProperty('InputTransformer');
  });

  test('retries for 2 hours, then a dead-letter queue that also takes the function\'s failed async invocations', () => {
    const queueId = s.id(s.stack.node.findChild('FinalizeDeadLetterQueue'));
    expect(s.json.Resources[queueId].Properties).toMatchObject({ MessageRetentionPeriod: 1209600, SqsManagedSseEnabled: true });
    const target = rule()[0].Properties.Targets[0];
    expect(target.DeadLetterConfig).toEqual({ Arn: { 'Fn::GetAtt': [queueId, 'Arn'] } });
    expect(target.RetryPolicy).toEqual({ MaximumEventAgeInSeconds: 7200, MaximumRetryAttempts: 8 });
    expect(fnOf('Finalize').Properties.DeadLetterConfig).toEqual({ TargetArn: { 'Fn::GetAtt': [queueId, 'Arn'] } });
    // EventBridge may invoke it, for this rule only.
    s.template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [s.id(s.stack.finalize.function), 'Arn'] },
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [Object.keys(resources(s, 'AWS::Events::Rule')).find((k) => k.startsWith('ExecutionEnded')), 'Arn'] },
    });
  });

  test('the warehouse function\'s Snowflake settings plus the alert topic', () => {
    const { POSTETL_ALERT_TOPIC_ARN, ...rest } = fnOf('Finalize').Properties.Environment.Variables;
    expect(POSTETL_ALERT_TOPIC_ARN).toEqual({ Ref: s.id(s.stack.alertTopic) });
    expect(rest).toEqual(fnOf('Warehouse').Properties.Environment.Variables);
  });
});

