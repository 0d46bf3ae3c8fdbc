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
  /** The prefix inside the bucket: no leading slash, always a trailing one ('' for the whole bucket). */
  readonly lakePrefix: string;
}

/** The AWS services the functions call, each with an optional interface endpoint (`vpcEndpoints`). */
export const INTERFACE_ENDPOINTS = ['secretsmanager', 'sts', 'states', 'glue', 'sns'] as const;
export type InterfaceEndpointName = typeof INTERFACE_ENDPOINTS[number];

/** The functions' network: none (Lambda's own), a new VPC, or an existing one. */
export type VpcConfig =
  | { readonly kind: 'new'; readonly cidr: string }
  | { readonly kind: 'existing'; readonly vpcId: string; readonly subnetIds: string[] };

/**
 * Snowflake over AWS PrivateLink (Snowflake's "AWS PrivateLink and Snowflake" guide): an interface
 * endpoint to the account's endpoint service (`privatelink-vpce-id` of SYSTEM$GET_PRIVATELINK_CONFIG),
 * or an endpoint that exists already, and the private hosted zone privatelink.snowflakecomputing.com
 * whose CNAMEs point the account's privatelink hosts at the endpoint.
 */
export interface PrivateLinkConfig {
  /** Create the endpoint to this service (`com.amazonaws.vpce.<region>.vpce-svc-...`). */
  readonly serviceName?: string;
  /** Or use an existing endpoint: its regional DNS name (`vpce-...vpce.amazonaws.com`). */
  readonly endpointDns?: string;
  /** The hosts to resolve to the endpoint (empty: the VPC's DNS already resolves them, no zone created). */
  readonly hosts: string[];
}

export interface NetworkConfig {
  readonly vpc: VpcConfig;
  readonly endpoints: InterfaceEndpointName[];
  readonly privateLink?: PrivateLinkConfig;
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
   * keyless only: prove the identity with a signed STS GetCallerIdentity request instead of the AWS
   * outbound identity federation JWT (STS GetWebIdentityToken), which is the default and the one
   * credential Snowflake documents for the SQL API. Always false in secret mode.
   */
  readonly snowflakeWifSignedRequest: boolean;
  /** Absolute path of the pipeline config; the SQL files it names are relative to it. */
  readonly pipelineConfigPath: string;
  readonly alertEmail?: string;
  readonly snowflakeBaseUrl?: string;
  readonly snowflakePrivateLink: boolean;
  readonly snowflakeIntegration?: SnowflakeIntegrationConfig;
  /** The functions in a VPC (private subnets); absent: Lambda's own network. */
  readonly network?: NetworkConfig;
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
const VPC_ID = /^vpc-[0-9a-f]{8,17}$/;
const SUBNET_ID = /^subnet-[0-9a-f]{8,17}$/;
const CIDR = /^(\d{1,3}\.){3}\d{1,3}\/(1[6-9]|2[0-4])$/;
const VPCE_SERVICE = /^com\.amazonaws\.vpce\.[a-z0-9-]+\.vpce-svc-[0-9a-f]{8,17}$/;
const VPCE_DNS = /^vpce-[0-9a-f]{8,17}-[a-z0-9]{8}\.vpce-svc-[0-9a-f]{8,17}\.[a-z0-9-]+\.vpce\.amazonaws\.com$/;
/** A host of SYSTEM$GET_PRIVATELINK_CONFIG: privatelink-account-url, regionless-privatelink-ocsp-url, ... */
const PRIVATELINK_HOST = /^([a-z0-9][a-z0-9_-]*\.)+privatelink\.snowflakecomputing\.com$/;
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
  // Keyless proves the identity with the outbound JWT by default; the signed GetCallerIdentity
  // request, which Snowflake documents only for the drivers' login request, is an explicit opt-in.
  // Unlike the other keyless keys, not ignored in secret mode: true there would suggest a
  // credential the functions never use, so it is reported rather than silently dropped.
  const wifSignedRequest = flag('snowflakeWifSignedRequest');
  // The old switch: the JWT is now the default, so only `true` (a no-op) is still accepted.
  const wifOutboundToken = get('snowflakeWifOutboundToken');
  if (wifOutboundToken !== undefined && wifOutboundToken !== 'true') {
    problems.push(`snowflakeWifOutboundToken: ${JSON.stringify(wifOutboundToken)}: the outbound JWT is now the keyless default and `
      + 'this key is obsolete; remove it (for the signed GetCallerIdentity request, not documented by Snowflake for the SQL '
      + 'API, set snowflakeWifSignedRequest=true)');
  }
  for (const [key, given] of [['snowflakeWifSignedRequest', wifSignedRequest], ['snowflakeWifOutboundToken', wifOutboundToken === 'true']] as const) {
    if (given && authMode === 'secret') {
      problems.push(`${key}: applies to authMode keyless only (secret mode reads its credential from `
        + 'the secret); remove it or set authMode=keyless');
    }
  }
  const baseUrl = check('snowflakeBaseUrl', get('snowflakeBaseUrl'), /^https:\/\/[^\s/]+(\/\S*)?$/, 'an https URL');

  const iamUserArn = check('snowflakeIamUserArn', get('snowflakeIamUserArn'), IAM_USER_ARN, 'an IAM user ARN');
  const externalIds = (get('snowflakeExternalId') ?? '').split(',').map((x) => x.trim()).filter((x) => x);
  const roleName = check('snowflakeRoleName', get('snowflakeRoleName'), /^[\w+=,.@-]{1,64}$/, 'an IAM role name');
  const lakeBucket = check('lakeBucket', get('lakeBucket'), BUCKET, 'an S3 bucket name');
  // Always ending in '/': `warehouse` would also match `warehouse-old/` in `${prefix}*`.
  const trimmedPrefix = (get('lakePrefix') ?? '').replace(/^\/+|\/+$/g, '');
  const lakePrefix = trimmedPrefix ? `${trimmedPrefix}/` : '';
  let snowflakeIntegration: SnowflakeIntegrationConfig | undefined;
  if (iamUserArn || externalIds.length > 0) {
    if (!iamUserArn) problems.push('snowflakeExternalId needs snowflakeIamUserArn');
    if (externalIds.length === 0) problems.push('snowflakeIamUserArn needs snowflakeExternalId (the trust has no ExternalId-less form)');
    if (!lakeBucket) problems.push('the Snowflake integration role needs lakeBucket');
    if (iamUserArn && externalIds.length > 0 && lakeBucket) {
      snowflakeIntegration = { iamUserArn, externalIds, roleName, lakeBucket, lakePrefix };
    }
  }

  const network = networkFromContext(get, check, problems, privateLink);

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
    snowflakeWifSignedRequest: authMode === 'keyless' && wifSignedRequest,
    snowflakeIntegration,
    network,
  };
  if (problems.length > 0) {
    throw new Error(`postetl CDK context is invalid:\n  - ${problems.join('\n  - ')}`);
  }
  return config;
}

const list = (value: string | undefined): string[] =>
  (value ?? '').split(',').map((x) => x.trim()).filter((x) => x);

/** The VPC keys: `vpc`, `vpcSubnetIds`, `vpcCidr`, `vpcEndpoints` and the PrivateLink ones. */
function networkFromContext(
  get: (key: string) => string | undefined,
  check: (key: string, value: string | undefined, pattern: RegExp, what: string) => string | undefined,
  problems: string[],
  privateLink: boolean,
): NetworkConfig | undefined {
  const vpcValue = get('vpc');
  const subnetIds = list(get('vpcSubnetIds'));
  const cidr = check('vpcCidr', get('vpcCidr'), CIDR, 'an IPv4 CIDR block from /16 to /24');
  const endpointsValue = list(get('vpcEndpoints'));
  const serviceName = check('snowflakePrivateLinkService', get('snowflakePrivateLinkService'), VPCE_SERVICE,
    'a VPC endpoint service name such as com.amazonaws.vpce.us-west-2.vpce-svc-0123456789abcdef0 (privatelink-vpce-id)');
  const endpointDns = check('snowflakePrivateLinkEndpointDns', get('snowflakePrivateLinkEndpointDns'), VPCE_DNS,
    "an interface endpoint's regional DNS name (vpce-...-xxxxxxxx.vpce-svc-....<region>.vpce.amazonaws.com)");
  const hosts = list(get('snowflakePrivateLinkHosts')).map((h) => h.toLowerCase());
  for (const h of hosts) {
    if (!PRIVATELINK_HOST.test(h)) {
      problems.push(`snowflakePrivateLinkHosts: ${JSON.stringify(h)} is not a host under privatelink.snowflakecomputing.com`);
    }
  }
  const privateLinkKeys = serviceName || endpointDns || hosts.length > 0;

  let vpc: VpcConfig | undefined;
  if (vpcValue === 'new') {
    if (subnetIds.length > 0) problems.push('vpcSubnetIds: only with an existing VPC (vpc=vpc-...), not with vpc=new');
    vpc = { kind: 'new', cidr: cidr ?? '10.0.0.0/16' };
  } else if (vpcValue !== undefined) {
    if (!VPC_ID.test(vpcValue)) problems.push(`vpc: ${JSON.stringify(vpcValue)} is neither "new" nor a VPC id (vpc-...)`);
    if (cidr) problems.push('vpcCidr: only with vpc=new');
    if (subnetIds.length === 0) problems.push('vpc: an existing VPC needs vpcSubnetIds (its private subnets, comma-separated)');
    for (const id of subnetIds) if (!SUBNET_ID.test(id)) problems.push(`vpcSubnetIds: ${JSON.stringify(id)} is not a subnet id`);
    vpc = { kind: 'existing', vpcId: vpcValue, subnetIds };
  } else {
    for (const [key, given] of [['vpcSubnetIds', subnetIds.length > 0], ['vpcCidr', cidr], ['vpcEndpoints', endpointsValue.length > 0]] as const) {
      if (given) problems.push(`${key}: needs vpc (new, or an existing VPC's id)`);
    }
    // Outside a VPC a function cannot reach an interface endpoint: the host would not resolve.
    if (privateLink) problems.push('snowflakePrivateLink: needs vpc (the functions reach a PrivateLink endpoint only from inside a VPC)');
  }

  const endpoints: InterfaceEndpointName[] = [];
  for (const e of endpointsValue) {
    if (e === 'all') endpoints.push(...INTERFACE_ENDPOINTS);
    else if ((INTERFACE_ENDPOINTS as readonly string[]).includes(e)) endpoints.push(e as InterfaceEndpointName);
    else problems.push(`vpcEndpoints: ${JSON.stringify(e)} is not one of all, ${INTERFACE_ENDPOINTS.join(', ')}`);
  }

  if (privateLinkKeys && !privateLink) problems.push('snowflakePrivateLinkService, snowflakePrivateLinkEndpointDns and snowflakePrivateLinkHosts need snowflakePrivateLink=true');
  if (serviceName && endpointDns) problems.push('snowflakePrivateLinkService (create the endpoint) and snowflakePrivateLinkEndpointDns (use an existing one) exclude each other');
  if (serviceName && hosts.length === 0) {
    problems.push('snowflakePrivateLinkService: a new endpoint needs snowflakePrivateLinkHosts (the privatelink hosts of SYSTEM$GET_PRIVATELINK_CONFIG) to be reachable by name');
  }
  if (hosts.length > 0 && !serviceName && !endpointDns) {
    problems.push('snowflakePrivateLinkHosts: needs the endpoint they resolve to (snowflakePrivateLinkService or snowflakePrivateLinkEndpointDns)');
  }
  if (!vpc) return undefined;
  return {
    vpc,
    endpoints: [...new Set(endpoints)],
    privateLink: privateLink ? { serviceName, endpointDns, hosts: [...new Set(hosts)] } : undefined,
  };
}
