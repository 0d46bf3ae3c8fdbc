// Checkov findings this stack accepts, each with its reason, written into the template as Checkov
// reads them (a resource's Metadata.checkov.skip), so `checkov -f template.json` reports them as
// skipped with the reason instead of failing, and a reviewer sees the reason beside the resource.

import { CfnResource } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

export interface Skip {
  readonly id: string;
  readonly comment: string;
}

/** Adds skips to the CloudFormation resource of a construct (its default child) or to a CfnResource. */
export function checkovSkip(construct: IConstruct, ...skips: Skip[]): void {
  const resource = (construct instanceof CfnResource ? construct : construct.node.defaultChild) as CfnResource | undefined;
  if (!resource) throw new Error(`checkovSkip: ${construct.node.path} has no CloudFormation resource`);
  const existing = (resource.getMetadata('checkov') as { skip?: Skip[] } | undefined)?.skip ?? [];
  resource.addMetadata('checkov', { skip: [...existing, ...skips] });
}

export const SKIPS = {
  reservedConcurrency: {
    id: 'CKV_AWS_115',
    comment: 'No reserved concurrency: it would be taken from the account pool; the workflow bounds concurrency (Map MaxConcurrency, one run per pipeline)',
  },
  stepDeadLetterQueue: {
    id: 'CKV_AWS_116',
    comment: 'Invoked synchronously by Step Functions: errors reach the workflow (Retry, Catch, NotifyFailure); an async DLQ would never receive a message',
  },
  environmentEncryption: {
    id: 'CKV_AWS_173',
    comment: 'The environment holds no secret (names and settings only; asserted by the CDK tests); Lambda encrypts it at rest',
  },
  logGroupKms: {
    id: 'CKV_AWS_158',
    comment: 'Logs hold no credentials or table data; CloudWatch Logs encrypts them at rest with its own keys',
  },
  sqsManagedEncryption: {
    id: 'CKV_AWS_27',
    comment: 'Encrypted with SSE-SQS (SqsManagedSseEnabled); the check recognises only a KMS key',
  },
  noVpc: {
    id: 'CKV_AWS_117',
    comment: 'Outside a VPC by choice of this deployment (context key vpc unset): Snowflake and the AWS APIs are reached over HTTPS',
  },
  unscopedWrites: {
    id: 'CKV_AWS_111',
    comment: 'Only actions without resource-level permissions are on "*": X-Ray PutTraceSegments/PutTelemetryRecords, '
      + 'sts:GetWebIdentityToken (limited by audience, algorithm and duration conditions), and the VPC network-interface actions Lambda needs',
  },
} satisfies Record<string, Skip>;
