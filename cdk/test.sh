#!/usr/bin/env bash
# The CDK app's checks, on a fresh machine (after tests/setup.sh made .venv with cfn-lint):
#   npm ci, type check, the assertion tests, `cdk synth` without bundling in six configurations,
#   a refused pipeline config failing the synth (with the postetl CLI built), cfn-lint and checkov
#   on each synthesized template. Needs Node.js 20+, Python 3 and the npm and PyPI registries; no
#   Docker, no AWS credentials, no Rust build. Exits non-zero on the first failure.
set -euo pipefail

CDK="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "${CDK}/.." && pwd)"
CFN_LINT="${REPO}/.venv/bin/cfn-lint"
cd "${CDK}"

# Everything temporary (the tests' cloud assemblies, the synthesized templates) goes here.
WORK="$(mktemp -d)"
trap 'rm -rf "${WORK}"' EXIT
export TMPDIR="${WORK}"
# Offline: no notices, no telemetry, no instance-metadata probe for credentials.
export CDK_DISABLE_CLI_TELEMETRY=true AWS_EC2_METADATA_DISABLED=true

if [[ ! -x "${CFN_LINT}" ]]; then
  echo "test.sh: ${CFN_LINT} is missing: run tests/setup.sh (cfn-lint is in tests/requirements.txt)" >&2
  exit 1
fi

echo "== npm ci"
npm ci --no-audit --no-fund --loglevel=error
# Once, on a loaded machine, npm ci left cargo-lambda-cdk without some of its .js files, and every
# suite failed with "Cannot find module": check that the packages load, else install once more.
if ! node -e "require('cargo-lambda-cdk'); require('aws-cdk-lib'); require('constructs')" >/dev/null 2>&1; then
  echo "== npm ci again: the first install is incomplete"
  rm -rf node_modules
  npm ci --no-audit --no-fund --loglevel=error
fi

echo "== tsc"
npx tsc --noEmit -p .

echo "== jest"
npx jest --ci

# The pipeline config goes through `postetl validate` at synth (lib/validate.ts): with the CLI
# built (tests/run-all.sh builds target/debug/postetl first) every synth below runs it; without it,
# the synths skip it (cargo run would compile the CLI here) and the check of a refused config says so.
POSTETL_BIN=""
for candidate in "${REPO}/target/release/postetl" "${REPO}/target/debug/postetl"; do
  if [[ -x "${candidate}" ]]; then POSTETL_BIN="${candidate}"; break; fi
done
if [[ -n "${POSTETL_BIN}" ]]; then
  export POSTETL_CLI="${POSTETL_BIN}"
else
  echo "test.sh: no target/{release,debug}/postetl: synths skip postetl validate (cargo build -p postetl-cli to include it)"
  export POSTETL_SKIP_VALIDATE=1
fi

# The CLI cannot pass `aws:cdk:bundling-stacks`; bin/postetl.ts sets it when POSTETL_SKIP_BUNDLING=1.
# tsc checked the types above, so ts-node only transpiles.
synth() {
  local name="$1"
  shift
  echo "== cdk synth (${name}, no bundling)"
  POSTETL_SKIP_BUNDLING=1 TS_NODE_TRANSPILE_ONLY=1 \
    npx cdk synth --no-notices --quiet --output "${WORK}/${name}" "$@"
}
SNOWFLAKE_KEYLESS=(-c authMode=keyless -c snowflakeAccount=myorg-myacct -c snowflakeRole=POSTETL
  -c snowflakeWarehouse=POSTETL_WH -c snowflakeDatabase=ANALYTICS -c snowflakeSchema=CORE)
# As in cdk.json: secret mode, secret by name, environment-agnostic account.
synth default
# Every option: secret by ARN with its KMS key, an alert email, the Snowflake integration role
# (lakePrefix without its trailing slash: the stack adds it).
synth options \
  -c account=123456789012 -c region=eu-west-1 \
  -c secretArn=arn:aws:secretsmanager:eu-west-1:123456789012:secret:postetl/snowflake-AbC123 \
  -c secretKmsKeyArn=arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab \
  -c alertEmail=data-oncall@example.com \
  -c snowflakeIamUserArn=arn:aws:iam::999988887777:user/abc1-s-xyz \
  -c snowflakeExternalId=VOLUME_SFCRole=2_abcdefg=,GLUE_SFCRole=2_hijklmn= -c snowflakeRoleName=postetl-snowflake \
  -c lakeBucket=postetl-lake -c lakePrefix=warehouse
# Keyless (workload identity): no secret, no extension; the outbound JWT (sts:GetWebIdentityToken) by default.
synth keyless -c region=us-west-2 "${SNOWFLAKE_KEYLESS[@]}" -c snowflakeUser=POSTETL_SVC
# Keyless with the signed GetCallerIdentity request (opt-in, not documented by Snowflake for the SQL API).
synth keyless-signed -c region=us-west-2 "${SNOWFLAKE_KEYLESS[@]}" -c snowflakeWifSignedRequest=true
# A new VPC (NAT with a fixed Elastic IP), every interface endpoint, Snowflake over a new PrivateLink
# endpoint with its private hosted zone; keyless. No account: a concrete one would make the CLI look up
# the availability zones (AWS credentials); Fn::GetAZs instead.
synth vpc-new -c region=us-west-2 "${SNOWFLAKE_KEYLESS[@]}" \
  -c alertEmail=data-oncall@example.com -c vpc=new -c vpcEndpoints=all -c snowflakePrivateLink=true \
  -c snowflakePrivateLinkService=com.amazonaws.vpce.us-west-2.vpce-svc-0123456789abcdef0 \
  -c snowflakePrivateLinkHosts=xy12345.us-west-2.privatelink.snowflakecomputing.com,myorg-myacct.privatelink.snowflakecomputing.com,ocsp.myorg-myacct.privatelink.snowflakecomputing.com
# An existing VPC and PrivateLink endpoint (the zone only), two endpoints; secret mode, environment-agnostic.
synth vpc-existing -c vpc=vpc-0123456789abcdef0 \
  -c vpcSubnetIds=subnet-0123456789abcdef0,subnet-0123456789abcdef1 -c vpcEndpoints=secretsmanager,sts \
  -c snowflakePrivateLink=true -c snowflakePrivateLinkHosts=myorg-myacct.privatelink.snowflakecomputing.com \
  -c snowflakePrivateLinkEndpointDns=vpce-0123456789abcdef0-abcdefgh.vpce-svc-0123456789abcdef0.us-west-2.vpce.amazonaws.com
CONFIGS=(default options keyless keyless-signed vpc-new vpc-existing)
templates=()
for c in "${CONFIGS[@]}"; do templates+=("${WORK}/${c}/PostEtl.template.json"); done

echo "== a config postetl validate refuses fails the synth with its message"
if [[ -n "${POSTETL_BIN}" ]]; then
  bad="${WORK}/bad-config"
  mkdir -p "${bad}"
  # Accepted by the stack's own reader (lib/pipelines.ts), refused by validate: a merge without keys.
  printf '[pipelines.orders]\nglue_jobs = ["orders-to-iceberg"]\nwarehouse = "WH"\n[[pipelines.orders.merges]]\nname = "m"\ntarget = "A.B.T"\nsource = "A.B.S"\nkeys = []\ncolumns = ["C"]\n' \
    > "${bad}/pipelines.toml"
  if out="$(synth refused -c pipelineConfigPath="${bad}/pipelines.toml" 2>&1)"; then
    echo "test.sh: cdk synth accepted a config postetl validate refuses:" >&2
    echo "${out}" >&2
    exit 1
  fi
  expected="$("${POSTETL_BIN}" validate --config "${bad}/pipelines.toml" 2>&1 || true)"
  if [[ "${out}" != *"postetl validate refused ${bad}/pipelines.toml"* || "${out}" != *"${expected}"* ]]; then
    echo "test.sh: the synth failed without postetl validate's message (${expected}):" >&2
    echo "${out}" >&2
    exit 1
  fi
  echo "refused as expected: ${expected}"
else
  echo "skipped: no postetl binary (test/validate.test.ts covers it with a stand-in CLI)"
fi

echo "== cfn-lint ($("${CFN_LINT}" --version))"
# W3005 (a DependsOn that a GetAtt already implies) is how CDK orders a role's policy before the
# resources that use the role: noise, not a defect. Anything else, warnings included, fails.
"${CFN_LINT}" --ignore-checks W3005 -- "${templates[@]}"
echo "cfn-lint: ${#templates[@]} templates clean"

# checkov from PyPI in its own venv (checkov-requirements.txt says why), made once and again when
# that file changes. Every finding the stack accepts is skipped in the template with its reason
# (lib/checkov.ts); anything else fails.
CHECKOV_VENV="${CDK}/.venv-checkov"
stamp="${CHECKOV_VENV}/.requirements.sha256"
want="$(sha256sum "${CDK}/checkov-requirements.txt" | cut -d' ' -f1)"
if [[ ! -x "${CHECKOV_VENV}/bin/checkov" || ! -f "${stamp}" || "$(cat "${stamp}")" != "${want}" ]]; then
  echo "== creating ${CHECKOV_VENV} (checkov)"
  rm -rf "${CHECKOV_VENV}"
  python3 -m venv "${CHECKOV_VENV}"
  "${CHECKOV_VENV}/bin/pip" install --disable-pip-version-check -q -r "${CDK}/checkov-requirements.txt"
  echo "${want}" > "${stamp}"
fi
echo "== checkov ($("${CHECKOV_VENV}/bin/checkov" --version))"
checkov_args=()
for t in "${templates[@]}"; do checkov_args+=(-f "${t}"); done
"${CHECKOV_VENV}/bin/checkov" --quiet --compact --framework cloudformation --skip-download "${checkov_args[@]}"
echo "checkov: ${#templates[@]} templates clean (accepted findings skipped in the templates with their reasons)"

echo "cdk/test.sh: all checks passed"
