// The postetl stack: the six step Lambdas, the config layer, the state machine from
// statemachine/post-etl.asl.json, the EventBridge trigger on Glue job completion, the finalize Lambda
// and its trigger on executions that end outside the definition's Catch, the alert topic and alarms;
// optionally a VPC (see network.ts) and the IAM role Snowflake assumes to read the lake.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { Annotations, ArnFormat, CfnOutput, Duration, Fn, Stack, StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { PostEtlConfig, REPO_DIR } from './config';
import { checkovSkip, SKIPS } from './checkov';
import { Network } from './network';
import { PipelineSummary, readPipelineConfig, stageConfigLayer } from './pipelines';
import { FINALIZE, FunctionSpec, STEPS, StepLambda } from './step-lambda';

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
  /** The seventh function: clean-up after executions that end outside the definition's Catch. */
  readonly finalize: StepLambda;
  readonly stateMachine: sfn.StateMachine;
  readonly alertTopic: sns.Topic;
  readonly alertKey: kms.Key;
  readonly network?: Network;

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
    // Keyless mode: none. By default each function calls STS GetWebIdentityToken for a JWT
    // (audience snowflakecomputing.com, ES384, 900 s), the one AWS workload-identity credential
    // Snowflake's SQL API documents, which needs the statement below. With the opt-in
    // snowflakeWifSignedRequest it signs an STS GetCallerIdentity request instead, which Snowflake
    // sends to STS itself, so no permission is needed (not documented by Snowflake for the SQL API).
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

    // The functions that talk to Snowflake get its settings; plan, which never does, gets only its
    // config path (it starts without any Snowflake setting, reads no secret, is not registered).
    const configOnly: Record<string, string> = { POSTETL_CONFIG: CONFIG_PATH_IN_LAMBDA };
    const environment: Record<string, string> = { ...configOnly };
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
      // The variable Snowflake's Python connector reads for the same choice; explicit either way.
      environment.SNOWFLAKE_ENABLE_AWS_WIF_OUTBOUND_TOKEN = config.snowflakeWifSignedRequest ? 'false' : 'true';
    }
    if (config.snowflakeBaseUrl) environment.SNOWFLAKE_BASE_URL = config.snowflakeBaseUrl;
    if (config.snowflakePrivateLink) environment.SNOWFLAKE_PRIVATE_LINK = 'true';

    if (config.network) this.network = new Network(this, 'Network', config.network);

    // Failures go to one topic: the state machine's NotifyFailure state, finalize and every alarm.
    // Encrypted with a key of this stack whose policy lets CloudWatch alarms publish (an AWS-managed
    // SNS key would not); HTTPS only.
    this.alertKey = new kms.Key(this, 'AlertTopicKey', {
      description: 'postetl: encrypts the alert topic',
      enableKeyRotation: true,
    });
    // CloudWatch publishes alarm notifications as its service principal: it needs the key (SNS
    // "Enable compatibility between event sources from AWS services and encrypted topics") and,
    // since enforceSSL replaces the topic's default policy, an allow on the topic. Both only for
    // this account's alarms (no confused deputy).
    const fromOurAlarms = {
      StringEquals: { 'aws:SourceAccount': this.account },
      ArnLike: { 'aws:SourceArn': this.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
    };
    const cloudwatchPrincipal = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
    this.alertKey.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'CloudWatchAlarmsPublishToTheAlertTopic',
      principals: [cloudwatchPrincipal],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
      resources: ['*'],
      conditions: fromOurAlarms,
    }));
    this.alertTopic = new sns.Topic(this, 'AlertTopic', {
      displayName: 'postetl failures',
      masterKey: this.alertKey,
      enforceSSL: true,
    });
    this.alertTopic.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'CloudWatchAlarmsPublish',
      principals: [cloudwatchPrincipal],
      actions: ['sns:Publish'],
      resources: [this.alertTopic.topicArn],
      conditions: fromOurAlarms,
    }));
    if (config.alertEmail) {
      this.alertTopic.addSubscription(new subscriptions.EmailSubscription(config.alertEmail));
    } else {
      Annotations.of(this.alertTopic).addWarningV2('postetl:noAlertSubscriber',
        'alertEmail is not set: nobody receives the failure alerts (set -c alertEmail=... or subscribe to AlertTopicArn)');
    }

    const newFunction = (spec: FunctionSpec, extra: Record<string, string> = {}): StepLambda => {
      const step = new StepLambda(this, spec.id, {
        spec,
        manifestPath: MANIFEST_PATH,
        layers: [configLayer],
        environment: { ...(spec.snowflake ? environment : configOnly), ...extra },
        paramsAndSecrets: spec.snowflake ? paramsAndSecrets : undefined,
        network: this.network,
      });
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
      if (spec.snowflake && config.authMode === 'keyless' && !config.snowflakeWifSignedRequest) {
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
      checkovSkip(step.function, SKIPS.reservedConcurrency, SKIPS.environmentEncryption,
        ...(this.network ? [] : [SKIPS.noVpc]));
      checkovSkip(step.logGroup, SKIPS.logGroupKms);
      return step;
    };
    for (const spec of STEPS) {
      this.steps[spec.id] = newFunction(spec);
      checkovSkip(this.steps[spec.id].function, SKIPS.stepDeadLetterQueue);
    }
    this.finalize = newFunction(FINALIZE, { POSTETL_ALERT_TOPIC_ARN: this.alertTopic.topicArn });

    // Plan keeps one run per pipeline at a time: it lists the state machine's running executions
    // and reads their inputs. The name is fixed here so the ARNs need no reference to the state
    // machine itself (which references the functions: a cycle).
    const stateMachineName = `${this.stackName}-post-etl`;
    this.steps.Plan.role.addToPolicy(new iam.PolicyStatement({
      actions: ['states:ListExecutions'],
      resources: [this.formatArn({ service: 'states', resource: 'stateMachine', resourceName: stateMachineName, arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
    }));
    const executionsArn = this.formatArn({ service: 'states', resource: 'execution', resourceName: `${stateMachineName}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    this.steps.Plan.role.addToPolicy(new iam.PolicyStatement({
      actions: ['states:DescribeExecution'],
      resources: [executionsArn],
    }));
    // Finalize reads the ended execution's history (did it pass NotifyFailure? which step?) and alerts.
    this.finalize.role.addToPolicy(new iam.PolicyStatement({
      actions: ['states:DescribeExecution', 'states:GetExecutionHistory'],
      resources: [executionsArn],
    }));
    this.grantAlertPublish(this.finalize.role);

    // Glue: plan reads the job run an event reports and, like refresh-iceberg, the tables' metadata
    // location (plan to skip what did not change since the last successful run); refresh-iceberg
    // also reads their columns (schema drift, before any MERGE).
    if (this.pipelines.glueJobs.length > 0) {
      this.steps.Plan.role.addToPolicy(new iam.PolicyStatement({
        actions: ['glue:GetJobRun'],
        resources: this.pipelines.glueJobs.map((job) => this.glueArn('job', job)),
      }));
    }
    if (this.pipelines.glueTables.length > 0) {
      const databases = [...new Set(this.pipelines.glueTables.map((t) => t.database))];
      const getTable = new iam.PolicyStatement({
        actions: ['glue:GetTable'],
        resources: [
          this.glueArn('catalog'),
          ...databases.map((db) => this.glueArn('database', db)),
          ...this.pipelines.glueTables.map((t) => this.glueArn('table', `${t.database}/${t.table}`)),
        ],
      });
      this.steps.Plan.role.addToPolicy(getTable);
      this.steps.RefreshIceberg.role.addToPolicy(getTable);
    }

    // The state machine: the definition file, its ${...} filled by DefinitionSubstitutions, and its
    // TimeoutSeconds from the config (the file keeps a literal default for local runs): an execution
    // that runs longer ends TIMED_OUT, which the alarm below and finalize's rule see.
    const asl = JSON.parse(fs.readFileSync(DEFINITION_PATH, 'utf8')) as Record<string, unknown>;
    asl.TimeoutSeconds = this.pipelines.runTimeoutMinutes * 60;
    const definition = JSON.stringify(asl, null, 2);
    const substitutions: Record<string, string> = { AlertTopicArn: this.alertTopic.topicArn };
    for (const spec of STEPS) substitutions[spec.substitution] = this.steps[spec.id].function.functionArn;
    const placeholders = new Set([...definition.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]));
    const unfilled = [...placeholders].filter((p) => !(p in substitutions));
    const unused = Object.keys(substitutions).filter((s) => !placeholders.has(s));
    if (unfilled.length > 0 || unused.length > 0) {
      throw new Error(`${DEFINITION_PATH}: placeholders without a value: [${unfilled}]; values without a placeholder: [${unused}]`);
    }
    const stateMachineLogs = new logs.LogGroup(this, 'StateMachineLogs', {
      // Step Functions' vended logs: this prefix keeps CloudWatch's resource policy small. The
      // stack id's UUID makes the name new for each stack instance: the group is kept on delete,
      // and a stack created again after `cdk destroy` must not collide with it.
      logGroupName: `/aws/vendedlogs/states/${this.stackName}-post-etl-${Fn.select(2, Fn.split('/', this.stackId))}`,
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
    this.grantAlertPublish(this.stateMachine);

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
          // This account's jobs only: a bus that admits forwarded events would otherwise let another
          // account's job of the same name start a run.
          account: [this.account],
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

    // Finalize: every execution of this state machine that ends FAILED, TIMED_OUT or ABORTED (the
    // documented "Step Functions Execution Status Change" event). It does nothing for one that went
    // through NotifyFailure; for the others (StopExecution, the execution timeout, States.Runtime)
    // it cancels, suspends and alerts. Events EventBridge cannot deliver, and invocations that
    // still fail after Lambda's own two retries, land in one dead-letter queue.
    const finalizeDeadLetters = new sqs.Queue(this, 'FinalizeDeadLetterQueue', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    const finalizeFunction = this.finalize.function.node.defaultChild as lambda.CfnFunction;
    finalizeFunction.deadLetterConfig = { targetArn: finalizeDeadLetters.queueArn };
    this.finalize.role.addToPolicy(new iam.PolicyStatement({
      actions: ['sqs:SendMessage'],
      resources: [finalizeDeadLetters.queueArn],
    }));
    new events.Rule(this, 'ExecutionEndedOutsideCatch', {
      description: 'postetl: clean up after an execution that failed, timed out or was stopped',
      eventPattern: {
        account: [this.account],
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [this.stateMachine.stateMachineArn] },
      },
      targets: [new targets.LambdaFunction(this.finalize.function, {
        deadLetterQueue: finalizeDeadLetters,
        retryAttempts: 8,
        maxEventAge: Duration.hours(2),
      })],
    });

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
    for (const spec of [...STEPS, FINALIZE]) {
      const fn = spec === FINALIZE ? this.finalize : this.steps[spec.id];
      alarm(`${spec.id}ErrorsAlarm`, fn.function.metricErrors({ period, statistic: 'Sum' }),
        `postetl: the ${spec.binary} Lambda returned errors`);
    }
    alarm('TriggerDeadLettersAlarm',
      deadLetters.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' }),
      'postetl: a Glue event could not start an execution (see the dead-letter queue)');
    alarm('FinalizeDeadLettersAlarm',
      finalizeDeadLetters.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' }),
      'postetl: an ended execution was not cleaned up (the warehouse may still run; see the dead-letter queue)');

    if (config.snowflakeIntegration) this.snowflakeIntegrationRole(config.snowflakeIntegration);

    // The findings left, each with its reason in the template (see checkov.ts).
    for (const step of [...Object.values(this.steps), this.finalize]) {
      const policy = step.role.node.tryFindChild('DefaultPolicy')?.node.defaultChild;
      if (policy) checkovSkip(policy, SKIPS.unscopedWrites);
    }
    checkovSkip(stateMachineLogs, SKIPS.logGroupKms);
    checkovSkip(deadLetters, SKIPS.sqsManagedEncryption);
    checkovSkip(finalizeDeadLetters, SKIPS.sqsManagedEncryption);

    new CfnOutput(this, 'StateMachineArn', { value: this.stateMachine.stateMachineArn });
    new CfnOutput(this, 'AlertTopicArn', { value: this.alertTopic.topicArn });
    new CfnOutput(this, 'TriggerDeadLetterQueueUrl', { value: deadLetters.queueUrl });
    new CfnOutput(this, 'FinalizeDeadLetterQueueUrl', { value: finalizeDeadLetters.queueUrl });
    if (config.authMode === 'keyless') {
      // The identities to register on the Snowflake service user (WORKLOAD_IDENTITY).
      for (const spec of STEPS.filter((s) => s.snowflake)) {
        new CfnOutput(this, `${spec.id}RoleArn`, { value: this.steps[spec.id].role.roleArn });
      }
      new CfnOutput(this, 'FinalizeRoleArn', { value: this.finalize.role.roleArn });
    }
  }

  /**
   * Publish to the alert topic: sns:Publish and, for its key, the two calls SNS makes for a
   * publisher (not Topic.grantPublish, whose kms:GenerateDataKey* also allows key pairs).
   */
  private grantAlertPublish(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({ grantee, actions: ['sns:Publish'], resourceArns: [this.alertTopic.topicArn] });
    iam.Grant.addToPrincipal({ grantee, actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resourceArns: [this.alertKey.keyArn] });
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
