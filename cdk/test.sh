#!/usr/bin/env bash
# The CDK app's checks, on a fresh machine (after tests/setup.sh made .venv with cfn-lint):
#   npm ci, type check, the assertion tests, `cdk synth` without bundling in four configurations,
#   and cfn-lint on each synthesized template. Needs Node.js 20+ and the npm registry; no Docker,
#   no AWS credentials, no Rust build. Exits non-zero on the first failure.
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

echo "== tsc"
npx tsc --noEmit -p .

echo "== jest"
npx jest --ci

# The CLI cannot pass `aws:cdk:bundling-stacks`; bin/postetl.ts sets it when POSTETL_SKIP_BUNDLING=1.
# tsc checked the types above, so ts-node only transpiles.
synth() {
  local name="$1"
  shift
  echo "== cdk synth (${name}, no bundling)"
  POSTETL_SKIP_BUNDLING=1 TS_NODE_TRANSPILE_ONLY=1 \
    npx cdk synth --no-notices --quiet --output "${WORK}/${name}" "$@"
}
# As in cdk.json: secret mode, secret by name, environment-agnostic account.
synth default
# Every option: secret by ARN with its KMS key, an alert email, the Snowflake integration role.
synth options \
  -c account=123456789012 -c region=eu-west-1 \
  -c secretArn=arn:aws:secretsmanager:eu-west-1:123456789012:secret:postetl/snowflake-AbC123 \
  -c secretKmsKeyArn=arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab \
  -c alertEmail=data-oncall@example.com \
  -c snowflakeIamUserArn=arn:aws:iam::999988887777:user/abc1-s-xyz \
  -c snowflakeExternalId=VOLUME_SFCRole=2_abcdefg=,GLUE_SFCRole=2_hijklmn= -c snowflakeRoleName=postetl-snowflake \
  -c lakeBucket=postetl-lake -c lakePrefix=warehouse/
# Keyless (workload identity): no secret, no extension; the connection settings instead.
synth keyless -c authMode=keyless -c region=us-west-2 \
  -c snowflakeAccount=myorg-myacct -c snowflakeUser=POSTETL_SVC -c snowflakeRole=POSTETL \
  -c snowflakeWarehouse=POSTETL_WH -c snowflakeDatabase=ANALYTICS -c snowflakeSchema=CORE
# Keyless with the AWS outbound JWT: the sts:GetWebIdentityToken statement on the five Snowflake roles.
synth keyless-outbound -c authMode=keyless -c region=us-west-2 -c snowflakeWifOutboundToken=true \
  -c snowflakeAccount=myorg-myacct -c snowflakeRole=POSTETL \
  -c snowflakeWarehouse=POSTETL_WH -c snowflakeDatabase=ANALYTICS -c snowflakeSchema=CORE

echo "== cfn-lint ($("${CFN_LINT}" --version))"
# W3005 (a DependsOn that a GetAtt already implies) is how CDK orders a role's policy before the
# resources that use the role: noise, not a defect. Anything else, warnings included, fails.
templates=("${WORK}"/{default,options,keyless,keyless-outbound}/PostEtl.template.json)
"${CFN_LINT}" --ignore-checks W3005 -- "${templates[@]}"
echo "cfn-lint: ${#templates[@]} templates clean"

echo "cdk/test.sh: all checks passed"
