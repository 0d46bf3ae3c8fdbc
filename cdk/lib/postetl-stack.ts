// The postetl stack: the six step Lambdas, the config layer, the state machine from
// statemachine/post-etl.asl.json, the EventBridge trigger on Glue job completion, the alert topic and
// alarms, and optionally the IAM role Snowflake assumes to read the lake.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { ArnFormat, CfnOutput, Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { PostEtlConfig, REPO_DIR } from './config';
import { PipelineSummary, readPipelineConfig, stageConfigLayer } from './pipelines';
import { STEPS, StepLambda } from './step-lambda';

/** Where the config layer puts the pipeline config (a layer unpacks under /opt). */
export const CONFIG_PATH_IN_LAMBDA = '/opt/postetl/pipelines.toml';
export const DEFINITION_PATH = path.join(REPO_DIR, 'statemachine', 'post-etl.asl.json');
export const MANIFEST_PATH = path.join(REPO_DIR, 'Cargo.toml');

export interface PostEtlStackProps extends StackProps {
  readonly config: PostEtlConfig;
}

export class PostEtlStack extends Stack {
  readonly pipelines: PipelineSummary;
  readonly steps: Record<string, StepLambda> = {};
  readonly stateMachine: sfn.StateMachine;
  readonly alertTopic: sns.Topic;

  constructor(scope: Construct, id: string, props: PostEtlStackProps) {
    super(scope, id, props);
    const { config } = props;
    this.pipelines = readPipelineConfig(config.pipelineConfigPath);

    // The pipeline config and its SQL files, at /opt/postetl/ in every function.
    const configLayer = new lambda.LayerVersion(this, 'ConfigLayer', {
      code: lambda.Code.fromAsset(stageConfigLayer(config.pipelineConfigPath, this.pipelines)),
      compatibleArchitectures: [lambda.Architecture.ARM_64],
      // As RustFunction builds its runtime (by name), so that CDK's compatibility check matches.
      compatibleRuntimes: [new lambda.Runtime('provided.al2023')],
      description: 'postetl pipeline config: /opt/postetl/pipelines.toml and /opt/postetl/sql/',
    });

    // Snowflake credentials. Secret mode: a secret that exists already (never created here, never
    // holding a value in this app), read through the Parameters and Secrets extension; whether it
    // holds a key pair, a programmatic access token or an OAuth token changes nothing here.
    // Keyless mode: none. By default each function signs an STS GetCallerIdentity request with its
    // role's credentials and Snowflake, not the function, sends it to STS, so no permission is needed.
    // With snowflakeWifOutboundToken the function itself calls STS GetWebIdentityToken for a JWT
    // (audience snowflakecomputing.com, ES384, 900 s), which needs the statement below.
    let secret: secretsmanager.ISecret | undefined;
    let secretArnForPolicy: string | undefined;
    if (config.authMode === 'secret') {
      if (config.secretArn) {
        secret = secretsmanager.Secret.fromSecretCompleteArn(this, 'SnowflakeSecret', config.secretArn);
        secretArnForPolicy = secret.secretArn;
      } else {
        secret = secretsmanager.Secret.fromSecretNameV2(this, 'SnowflakeSecret', config.secretName!);
        // A name-imported secret's ARN lacks the random suffix Secrets Manager appends.
        secretArnForPolicy = `${secret.secretArn}-??????`;
      }
    }
    const paramsAndSecrets = secret
      ? lambda.ParamsAndSecretsLayerVersion.fromVersion(lambda.ParamsAndSecretsVersions.V1_0_103, {
        cacheEnabled: true,
        logLevel: lambda.ParamsAndSecretsLogLevel.WARN,
      })
      : undefined;

    // The same environment for every function: the shared bootstrap reads it in plan too, which
    // gets no permission to read the secret and is not registered with Snowflake.
    const environment: Record<string, string> = { POSTETL_CONFIG: CONFIG_PATH_IN_LAMBDA };
    if (secret) {
      // The name or ARN, never the value.
      environment.POSTETL_SECRET_ID = config.secretArn ?? config.secretName!;
    } else {
      // What the secret carries besides the credential; validated, and none of it is secret.
      const sf = config.snowflake!;
      environment.SNOWFLAKE_AUTH = 'workload_identity';
      environment.SNOWFLAKE_ACCOUNT = sf.account;
      if (sf.user) environment.SNOWFLAKE_USER = sf.user;
      environment.SNOWFLAKE_ROLE = sf.role;
      environment.SNOWFLAKE_WAREHOUSE = sf.warehouse;
      environment.SNOWFLAKE_DATABASE = sf.database;
      environment.SNOWFLAKE_SCHEMA = sf.schema;
      // The variable Snowflake's Python connector reads for the same choice.
      if (config.snowflakeWifOutboundToken) environment.SNOWFLAKE_ENABLE_AWS_WIF_OUTBOUND_TOKEN = 'true';
    }
    if (config.snowflakeBaseUrl) environment.SNOWFLAKE_BASE_URL = config.snowflakeBaseUrl;
    if (config.snowflakePrivateLink) environment.SNOWFLAKE_PRIVATE_LINK = 'true';

    for (const spec of STEPS) {
      const step = new StepLambda(this, spec.id, {
        spec,
        manifestPath: MANIFEST_PATH,
        layers: [configLayer],
        environment,
        paramsAndSecrets: spec.snowflake ? paramsAndSecrets : undefined,
      });
      this.steps[spec.id] = step;
      if (spec.snowflake && secretArnForPolicy) {
        step.role.addToPolicy(new iam.PolicyStatement({
          actions: ['secretsmanager:GetSecretValue'],
          resources: [secretArnForPolicy],
        }));
        if (config.secretKmsKeyArn) {
          step.role.addToPolicy(new iam.PolicyStatement({
            actions: ['kms:Decrypt'],
            resources: [config.secretKmsKeyArn],
            conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${this.region}.amazonaws.com` } },
          }));
        }
      }
      if (spec.snowflake && config.snowflakeWifOutboundToken) {
        // Only the token the Rust side asks for: Snowflake's audience, ES384, at most 15 minutes.
        // The action takes no resource-level permissions.
        step.role.addToPolicy(new iam.PolicyStatement({
          actions: ['sts:GetWebIdentityToken'],
          resources: ['*'],
          conditions: {
            'ForAllValues:StringEquals': { 'sts:IdentityTokenAudience': 'snowflakecomputing.com' },
            'StringEquals': { 'sts:SigningAlgorithm': 'ES384' },
            'NumericLessThanEquals': { 'sts:DurationSeconds': 900 },
          },
        }));
      }
    }

    // Plan keeps one run per pipeline at a time: it lists the state machine's running executions
    // and reads their inputs. The name is fixed here so the ARNs need no reference to the state
    // machine itself (which references the functions: a cycle).
    const stateMachineName = `${this.stackName}-post-etl`;
    this.steps.Plan.role.addToPolicy(new iam.PolicyStatement({
      actions: ['states:ListExecutions'],
      resources: [this.formatArn({ service: 'states', resource: 'stateMachine', resourceName: stateMachineName, arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
    }));
    this.steps.Plan.role.addToPolicy(new iam.PolicyStatement({
      actions: ['states:DescribeExecution'],
      resources: [this.formatArn({ service: 'states', resource: 'execution', resourceName: `${stateMachineName}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
    }));

    // Glue: plan reads the job run an event reports; refresh-iceberg reads the tables' metadata location.
    if (this.pipelines.glueJobs.length > 0) {
      this.steps.Plan.role.addToPolicy(new iam.PolicyStatement({
        actions: ['glue:GetJobRun'],
        resources: this.pipelines.glueJobs.map((job) => this.glueArn('job', job)),
      }));
    }
    if (this.pipelines.glueTables.length > 0) {
      const databases = [...new Set(this.pipelines.glueTables.map((t) => t.database))];
      this.steps.RefreshIceberg.role.addToPolicy(new iam.PolicyStatement({
        actions: ['glue:GetTable'],
        resources: [
          this.glueArn('catalog'),
          ...databases.map((db) => this.glueArn('database', db)),
          ...this.pipelines.glueTables.map((t) => this.glueArn('table', `${t.database}/${t.table}`)),
        ],
      }));
    }

    // Failures go to one topic: the state machine's NotifyFailure state and every alarm.
    this.alertTopic = new sns.Topic(this, 'AlertTopic', { displayName: 'postetl failures' });
    if (config.alertEmail) {
      this.alertTopic.addSubscription(new subscriptions.EmailSubscription(config.alertEmail));
    }

    // The state machine: the definition file as it is, its ${...} filled by DefinitionSubstitutions.
    const definition = fs.readFileSync(DEFINITION_PATH, 'utf8');
    const substitutions: Record<string, string> = { AlertTopicArn: this.alertTopic.topicArn };
    for (const spec of STEPS) substitutions[spec.substitution] = this.steps[spec.id].function.functionArn;
    const placeholders = new Set([...definition.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]));
    const unfilled = [...placeholders].filter((p) => !(p in substitutions));
    const unused = Object.keys(substitutions).filter((s) => !placeholders.has(s));
    if (unfilled.length > 0 || unused.length > 0) {
      throw new Error(`${DEFINITION_PATH}: placeholders without a value: [${unfilled}]; values without a placeholder: [${unused}]`);
    }
    const stateMachineLogs = new logs.LogGroup(this, 'StateMachineLogs', {
      // Step Functions' vended logs: this prefix keeps CloudWatch's resource policy small.
      logGroupName: `/aws/vendedlogs/states/${this.stackName}-post-etl`,
      retention: logs.RetentionDays.ONE_MONTH,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromString(definition),
      definitionSubstitutions: substitutions,
      logs: { destination: stateMachineLogs, level: sfn.LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: true,
      comment: 'postetl: bring Snowflake up to date after a Glue job wrote Iceberg tables',
    });
    for (const spec of STEPS) this.steps[spec.id].function.grantInvoke(this.stateMachine);
    this.alertTopic.grantPublish(this.stateMachine);

    // The trigger: every configured Glue job's SUCCEEDED event starts a run with the event as input.
    const deadLetters = new sqs.Queue(this, 'TriggerDeadLetterQueue', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    if (this.pipelines.glueJobs.length > 0) {
      new events.Rule(this, 'GlueJobSucceeded', {
        description: 'postetl: start a run when a configured Glue job succeeds',
        eventPattern: {
          source: ['aws.glue'],
          detailType: ['Glue Job State Change'],
          detail: { state: ['SUCCEEDED'], jobName: this.pipelines.glueJobs },
        },
        targets: [new targets.SfnStateMachine(this.stateMachine, {
          deadLetterQueue: deadLetters,
          retryAttempts: 8,
          maxEventAge: Duration.hours(2),
        })],
      });
    }

    // Alarms, each publishing to the topic.
    const alarm = (id: string, metric: cloudwatch.Metric, description: string) => {
      new cloudwatch.Alarm(this, id, {
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      }).addAlarmAction(new cwActions.SnsAction(this.alertTopic));
    };
    const period = Duration.minutes(5);
    alarm('ExecutionsFailedAlarm', this.stateMachine.metricFailed({ period, statistic: 'Sum' }),
      'postetl: a state machine execution failed');
    alarm('ExecutionsTimedOutAlarm', this.stateMachine.metricTimedOut({ period, statistic: 'Sum' }),
      'postetl: a state machine execution timed out');
    for (const spec of STEPS) {
      alarm(`${spec.id}ErrorsAlarm`, this.steps[spec.id].function.metricErrors({ period, statistic: 'Sum' }),
        `postetl: the ${spec.binary} Lambda returned errors`);
    }
    alarm('TriggerDeadLettersAlarm',
      deadLetters.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' }),
      'postetl: a Glue event could not start an execution (see the dead-letter queue)');

    if (config.snowflakeIntegration) this.snowflakeIntegrationRole(config.snowflakeIntegration);

    new CfnOutput(this, 'StateMachineArn', { value: this.stateMachine.stateMachineArn });
    new CfnOutput(this, 'AlertTopicArn', { value: this.alertTopic.topicArn });
    new CfnOutput(this, 'TriggerDeadLetterQueueUrl', { value: deadLetters.queueUrl });
    if (config.authMode === 'keyless') {
      // The identities to register on the Snowflake service user (WORKLOAD_IDENTITY).
      for (const spec of STEPS.filter((s) => s.snowflake)) {
        new CfnOutput(this, `${spec.id}RoleArn`, { value: this.steps[spec.id].role.roleArn });
      }
    }
  }

  private glueArn(resource: string, resourceName?: string): string {
    return this.formatArn({ service: 'glue', resource, resourceName });
  }

  /** The role Snowflake assumes (seed 002's trust, with sts:ExternalId) to read the lake and the Glue catalog. */
  private snowflakeIntegrationRole(integration: NonNullable<PostEtlConfig['snowflakeIntegration']>): iam.Role {
    const role = new iam.Role(this, 'SnowflakeIntegrationRole', {
      roleName: integration.roleName,
      assumedBy: new iam.ArnPrincipal(integration.iamUserArn),
      externalIds: integration.externalIds,
      description: 'Assumed by Snowflake (external volume / Glue catalog integration) to read the lake',
    });
    const bucketArn = `arn:${this.partition}:s3:::${integration.lakeBucket}`;
    const prefix = integration.lakePrefix;
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['s3:GetObject', 's3:GetObjectVersion'],
      resources: [`${bucketArn}/${prefix}*`],
    }));
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [bucketArn],
      conditions: prefix ? { StringLike: { 's3:prefix': [`${prefix}*`] } } : undefined,
    }));
    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetBucketLocation'], resources: [bucketArn] }));
    const databases = [...new Set(this.pipelines.glueTables.map((t) => t.database))];
    if (databases.length > 0) {
      role.addToPolicy(new iam.PolicyStatement({
        actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetTables'],
        resources: [
          this.glueArn('catalog'),
          ...databases.flatMap((db) => [this.glueArn('database', db), this.glueArn('table', `${db}/*`)]),
        ],
      }));
    }
    new CfnOutput(this, 'SnowflakeIntegrationRoleArn', { value: role.roleArn });
    return role;
  }
}
