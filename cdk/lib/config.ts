// The deployment's settings, read from CDK context (cdk.json, or `-c key=value` on the command line).
// Every key is documented in cdk/README.md; this file is the one place that reads and checks them.

import * as path from 'node:path';
import { Node } from 'constructs';

/**
 * `secret`: the credential is in a Secrets Manager secret (a key pair, a programmatic access token or
 * an External OAuth token: the secret's `authenticator` field says which; the stack is the same for
 * all three). `keyless`: workload identity federation, each function authenticates as its IAM role.
 * The context also accepts `keypair`, the old name of `secret`.
 */
export type AuthMode = 'secret' | 'keyless';

/** Keyless mode: the connection settings the secret carries in secret mode (none is a credential). */
export interface SnowflakeConnectionConfig {
  /** SNOWFLAKE_ACCOUNT: the account identifier, e.g. `myorg-myacct` or `xy12345.us-east-2`. */
  readonly account: string;
  /** SNOWFLAKE_USER, optional: only for the functions' logs (Snowflake finds the user by the role ARN). */
  readonly user?: string;
  /** SNOWFLAKE_ROLE, SNOWFLAKE_WAREHOUSE, SNOWFLAKE_DATABASE, SNOWFLAKE_SCHEMA. */
  readonly role: string;
  readonly warehouse: string;
  readonly database: string;
  readonly schema: string;
}

/** The optional IAM role Snowflake assumes for a Glue catalog integration and an external volume. */
export interface SnowflakeIntegrationConfig {
  /** STORAGE_AWS_IAM_USER_ARN / GLUE_AWS_IAM_USER_ARN from `DESC INTEGRATION` / `DESC EXTERNAL VOLUME`. */
  readonly iamUserArn: string;
  /** STORAGE_AWS_EXTERNAL_ID / GLUE_AWS_EXTERNAL_ID from the same (one or more: context value comma-separated). */
  readonly externalIds: string[];
  /** A fixed role name, so the Snowflake objects can name the role before it exists. */
  readonly roleName?: string;
  /** The lake bucket Snowflake reads Iceberg data and metadata from. */
  readonly lakeBucket: string;
  /** The prefix inside the bucket (no leading slash; '' for the whole bucket). */
  readonly lakePrefix: string;
}

export interface PostEtlConfig {
  readonly account?: string;
  readonly region?: string;
  readonly authMode: AuthMode;
  /** secret only: the Snowflake secret's name or complete ARN (exactly one). */
  readonly secretName?: string;
  readonly secretArn?: string;
  /** secret only, optional: the customer-managed KMS key that encrypts the secret. */
  readonly secretKmsKeyArn?: string;
  /** keyless only: account, user, role, warehouse, database and schema for the functions' environment. */
  readonly snowflake?: SnowflakeConnectionConfig;
  /**
   * keyless only: prove the identity with an AWS outbound identity federation JWT (STS
   * GetWebIdentityToken) instead of a signed GetCallerIdentity request. Always false in secret mode.
   */
  readonly snowflakeWifOutboundToken: boolean;
  /** Absolute path of the pipeline config; the SQL files it names are relative to it. */
  readonly pipelineConfigPath: string;
  readonly alertEmail?: string;
  readonly snowflakeBaseUrl?: string;
  readonly snowflakePrivateLink: boolean;
  readonly snowflakeIntegration?: SnowflakeIntegrationConfig;
}

/** The cdk/ directory: relative paths in the context are relative to it. */
export const CDK_DIR = path.resolve(__dirname, '..');
/** The repository root (the Cargo workspace). */
export const REPO_DIR = path.resolve(CDK_DIR, '..');
export const DEFAULT_PIPELINE_CONFIG = '../statemachine/pipelines.toml';

const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+-[A-Za-z0-9]{6}$/;
const SECRET_NAME = /^[\w/+=.@-]{1,512}$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[\w-]+$/;
const IAM_USER_ARN = /^arn:aws[a-z-]*:iam::\d{12}:user\/[\w/+=,.@-]+$/;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
/** An account identifier: `myorg-myacct`, `myorg.myacct`, `xy12345`, `xy12345.us-east-2.aws`, ... */
const SNOWFLAKE_ACCOUNT = /^(?=.{1,255}$)[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9][A-Za-z0-9_-]*)*$/;
/** An unquoted Snowflake identifier. */
const SNOWFLAKE_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]{0,254}$/;
/** A login name: only logged, and may be an email address, so a little wider than an identifier. */
const SNOWFLAKE_USER = /^[A-Za-z0-9_$@.-]{1,255}$/;

/** Reads and checks the settings; throws one error naming every problem. */
export function configFromContext(node: Node): PostEtlConfig {
  const problems: string[] = [];
  const get = (key: string): string | undefined => {
    const value = node.tryGetContext(key);
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string' && typeof value !== 'boolean' && typeof value !== 'number') {
      problems.push(`${key}: expected a string, got ${JSON.stringify(value)}`);
      return undefined;
    }
    return String(value).trim() || undefined;
  };
  const check = (key: string, value: string | undefined, pattern: RegExp, what: string) => {
    if (value !== undefined && !pattern.test(value)) problems.push(`${key}: ${JSON.stringify(value)} is not ${what}`);
    return value;
  };

  // `keypair` is the old name of `secret`, kept so existing contexts still work.
  const givenAuthMode = get('authMode') ?? 'secret';
  const authMode = (givenAuthMode === 'keypair' ? 'secret' : givenAuthMode) as AuthMode;
  if (authMode !== 'secret' && authMode !== 'keyless') {
    problems.push(`authMode: ${JSON.stringify(givenAuthMode)} is neither "secret" (or its old name "keypair") nor "keyless"`);
  }

  // Each mode reads only its own keys and ignores the other mode's (cdk.json keeps secretName while
  // -c authMode=keyless is tried, and keyless settings may stay there when switching back).
  let secretName: string | undefined;
  let secretArn: string | undefined;
  let secretKmsKeyArn: string | undefined;
  if (authMode === 'secret') {
    secretArn = check('secretArn', get('secretArn'), SECRET_ARN, 'a complete Secrets Manager secret ARN (with its 6-character suffix)');
    // An ARN wins over a name, so `-c secretArn=...` overrides the name in cdk.json.
    secretName = secretArn ? undefined : check('secretName', get('secretName'), SECRET_NAME, 'a secret name');
    if (!secretArn && !secretName) problems.push('authMode secret needs secretName or secretArn');
    secretKmsKeyArn = check('secretKmsKeyArn', get('secretKmsKeyArn'), KMS_KEY_ARN, 'a KMS key ARN');
  }

  let snowflake: SnowflakeConnectionConfig | undefined;
  if (authMode === 'keyless') {
    const required = (key: string, pattern: RegExp, what: string) => {
      const value = check(key, get(key), pattern, what);
      if (value === undefined && !problems.some((p) => p.startsWith(`${key}:`))) {
        problems.push(`authMode keyless needs ${key} (${what})`);
      }
      return value;
    };
    const identifier = 'an unquoted Snowflake identifier (letters, digits, _ and $, not starting with a digit or $)';
    const account = required('snowflakeAccount', SNOWFLAKE_ACCOUNT,
      'a Snowflake account identifier such as myorg-myacct or xy12345.us-east-2');
    const user = check('snowflakeUser', get('snowflakeUser'), SNOWFLAKE_USER, 'a Snowflake login name');
    const role = required('snowflakeRole', SNOWFLAKE_IDENTIFIER, identifier);
    const warehouse = required('snowflakeWarehouse', SNOWFLAKE_IDENTIFIER, identifier);
    const database = required('snowflakeDatabase', SNOWFLAKE_IDENTIFIER, identifier);
    const schema = required('snowflakeSchema', SNOWFLAKE_IDENTIFIER, identifier);
    if (account && role && warehouse && database && schema) {
      snowflake = { account, user, role, warehouse, database, schema };
    }
  }

  const flag = (key: string): boolean => {
    const value = get(key) ?? 'false';
    if (value !== 'true' && value !== 'false') problems.push(`${key}: ${JSON.stringify(value)} is neither true nor false`);
    return value === 'true';
  };
  const privateLink = flag('snowflakePrivateLink');
  // Unlike the other keyless keys, not ignored in secret mode: true there would suggest a JWT the
  // functions never ask for, so it is reported rather than silently dropped.
  const wifOutboundToken = flag('snowflakeWifOutboundToken');
  if (wifOutboundToken && authMode === 'secret') {
    problems.push('snowflakeWifOutboundToken: applies to authMode keyless only (secret mode reads its credential from '
      + 'the secret); remove it or set authMode=keyless');
  }
  const baseUrl = check('snowflakeBaseUrl', get('snowflakeBaseUrl'), /^https:\/\/[^\s/]+(\/\S*)?$/, 'an https URL');

  const iamUserArn = check('snowflakeIamUserArn', get('snowflakeIamUserArn'), IAM_USER_ARN, 'an IAM user ARN');
  const externalIds = (get('snowflakeExternalId') ?? '').split(',').map((x) => x.trim()).filter((x) => x);
  const roleName = check('snowflakeRoleName', get('snowflakeRoleName'), /^[\w+=,.@-]{1,64}$/, 'an IAM role name');
  const lakeBucket = check('lakeBucket', get('lakeBucket'), BUCKET, 'an S3 bucket name');
  const lakePrefix = (get('lakePrefix') ?? '').replace(/^\/+/, '');
  let snowflakeIntegration: SnowflakeIntegrationConfig | undefined;
  if (iamUserArn || externalIds.length > 0) {
    if (!iamUserArn) problems.push('snowflakeExternalId needs snowflakeIamUserArn');
    if (externalIds.length === 0) problems.push('snowflakeIamUserArn needs snowflakeExternalId (the trust has no ExternalId-less form)');
    if (!lakeBucket) problems.push('the Snowflake integration role needs lakeBucket');
    if (iamUserArn && externalIds.length > 0 && lakeBucket) {
      snowflakeIntegration = { iamUserArn, externalIds, roleName, lakeBucket, lakePrefix };
    }
  }

  const config: PostEtlConfig = {
    account: check('account', get('account'), /^\d{12}$/, 'a 12-digit account id'),
    region: check('region', get('region'), /^[a-z]{2}(-[a-z]+)+-\d$/, 'a region name'),
    authMode,
    secretName,
    secretArn,
    secretKmsKeyArn,
    snowflake,
    pipelineConfigPath: path.resolve(CDK_DIR, get('pipelineConfigPath') ?? DEFAULT_PIPELINE_CONFIG),
    alertEmail: check('alertEmail', get('alertEmail'), EMAIL, 'an email address'),
    snowflakeBaseUrl: baseUrl,
    snowflakePrivateLink: privateLink,
    snowflakeWifOutboundToken: authMode === 'keyless' && wifOutboundToken,
    snowflakeIntegration,
  };
  if (problems.length > 0) {
    throw new Error(`postetl CDK context is invalid:\n  - ${problems.join('\n  - ')}`);
  }
  return config;
}
