// One step Lambda: a binary of the Cargo workspace built by cargo-lambda for arm64, with its own
// role (logs to its own log group, X-Ray, and whatever the stack grants it: nothing else), JSON logs
// kept a month, active tracing, and the config layer; in the VPC's private subnets when there is one.

import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { RustFunction } from 'cargo-lambda-cdk';
import { Construct } from 'constructs';

export interface FunctionSpec {
  /** Construct id, e.g. `RefreshIceberg`. */
  readonly id: string;
  /** The workspace binary (`functions/<binary>`). */
  readonly binary: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  /** Whether the step talks to Snowflake (and so reads the Snowflake secret). */
  readonly snowflake: boolean;
  readonly description: string;
}

/** A function the state machine invokes. */
export interface StepSpec extends FunctionSpec {
  /** The DefinitionSubstitutions key of post-etl.asl.json that names this function. */
  readonly substitution: string;
}

/** The six steps, in workflow order. */
export const STEPS: readonly StepSpec[] = [
  {
    id: 'Plan', binary: 'plan', memorySize: 128, timeout: Duration.seconds(30), snowflake: false,
    substitution: 'PlanFunctionArn', description: 'postetl: turn a Glue event or console input into a run plan',
  },
  {
    id: 'Warehouse', binary: 'warehouse', memorySize: 128, timeout: Duration.minutes(2), snowflake: true,
    substitution: 'WarehouseFunctionArn', description: 'postetl: resume (and resize) or suspend the warehouse',
  },
  {
    id: 'RefreshIceberg', binary: 'refresh-iceberg', memorySize: 128, timeout: Duration.minutes(5), snowflake: true,
    substitution: 'RefreshIcebergFunctionArn', description: 'postetl: refresh one Iceberg table to its Glue metadata',
  },
  {
    id: 'RunMerge', binary: 'run-merge', memorySize: 256, timeout: Duration.minutes(15), snowflake: true,
    substitution: 'RunMergeFunctionArn', description: 'postetl: run one MERGE',
  },
  {
    id: 'DqCheck', binary: 'dq-check', memorySize: 256, timeout: Duration.minutes(15), snowflake: true,
    substitution: 'DqCheckFunctionArn', description: 'postetl: run the data-quality rules',
  },
  {
    id: 'RefreshMarts', binary: 'refresh-marts', memorySize: 128, timeout: Duration.minutes(15), snowflake: true,
    substitution: 'RefreshMartsFunctionArn', description: 'postetl: refresh the BI marts in order',
  },
];

/**
 * The seventh function, outside the definition: cleans up after an execution that ended outside its
 * own Catch (StopExecution, execution timeout, States.Runtime), from an EventBridge rule.
 */
export const FINALIZE: FunctionSpec = {
  id: 'Finalize', binary: 'finalize', memorySize: 128, timeout: Duration.minutes(5), snowflake: true,
  description: 'postetl: cancel, suspend and alert after an execution that ended outside its Catch',
};

/** Where the functions run when the stack has a VPC. */
export interface FunctionNetwork {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  readonly securityGroup: ec2.ISecurityGroup;
}

export interface StepLambdaProps {
  readonly spec: FunctionSpec;
  /** The workspace root Cargo.toml. */
  readonly manifestPath: string;
  readonly layers: lambda.ILayerVersion[];
  readonly environment: Record<string, string>;
  /** The Parameters and Secrets extension, for the steps that read the secret. */
  readonly paramsAndSecrets?: lambda.ParamsAndSecretsLayerVersion;
  readonly network?: FunctionNetwork;
}

export class StepLambda extends Construct {
  readonly function: lambda.Function;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: StepLambdaProps) {
    super(scope, id);
    const { spec } = props;
    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_MONTH });
    // Not the AWSLambdaBasicExecutionRole managed policy: that one may write to every log group.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `postetl ${spec.binary} Lambda`,
    });
    this.role.addToPolicy(new iam.PolicyStatement({
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [this.logGroup.logGroupArn],
    }));
    if (props.network) {
      // What AWSLambdaVPCAccessExecutionRole grants besides logs: Lambda manages the function's
      // network interfaces with the role. EC2 offers no resource-level scoping Lambda supports here.
      this.role.addToPolicy(new iam.PolicyStatement({
        actions: [
          'ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets',
          'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses',
        ],
        resources: ['*'],
      }));
    }
    this.function = new RustFunction(this, 'Function', {
      manifestPath: props.manifestPath,
      binaryName: spec.binary,
      architecture: lambda.Architecture.ARM_64,
      runtime: 'provided.al2023',
      description: spec.description,
      memorySize: spec.memorySize,
      timeout: spec.timeout,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.ACTIVE,
      layers: props.layers,
      environment: props.environment,
      paramsAndSecrets: props.paramsAndSecrets,
      vpc: props.network?.vpc,
      vpcSubnets: props.network?.subnets,
      securityGroups: props.network ? [props.network.securityGroup] : undefined,
    });
  }
}
