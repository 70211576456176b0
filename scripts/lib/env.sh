# Shared environment for the project's scripts. Source it; do not run it.
# shellcheck shell=bash
OSFLOW_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export OSFLOW_ROOT
# Project-local Python virtualenv holding the AWS emulator (moto), nfelib (official NF-e schemas) and cfn-lint.
export OSFLOW_VENV="${OSFLOW_VENV:-$OSFLOW_ROOT/.venv}"
# Emulator endpoint used by every test that touches DynamoDB/SQS.
export OSFLOW_EMULATOR_PORT="${OSFLOW_EMULATOR_PORT:-45660}"
# The deploy tools' virtualenv (scripts/setup --deploy): the AWS SAM CLI and cargo-lambda, apart from the tests' venv.
export OSFLOW_DEPLOY_VENV="${OSFLOW_DEPLOY_VENV:-$OSFLOW_ROOT/.venv-deploy}"
OSFLOW_SAM_CLI_VERSION=1.170.0
OSFLOW_CARGO_LAMBDA_VERSION=1.9.2
