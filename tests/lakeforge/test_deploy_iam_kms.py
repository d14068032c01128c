"""The lake's SSE-KMS key in the generated policies when ``aws.kms_key_id`` is an alias: an alias
in a statement's Resource names the alias, never the key behind it (AWS KMS, "Use aliases to
control access to KMS keys"), so such a policy let the job use no key at all and its first
encrypted write failed with AccessDenied.

The policies are evaluated by @cloud-copilot/iam-simulate (``.tools``, ``make tools``; what
tests/orchestration/test_iam.py uses), for a KMS request on the key that carries the alias with
the aliases KMS puts in the request context (``kms:ResourceAliases``). A KMS key's own policy
must let IAM policies grant its use: the simulation gives the key AWS's default key policy
(the account root may do ``kms:*``), which tests/orchestration's script does not pass, so the
simulation is run here with it.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lakeforge.config import load_env
from lakeforge.deploy import iam

ACCOUNT = "123456789012"
REGION = "eu-west-1"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"

TOOLS = Path(__file__).resolve().parents[2] / ".tools"
DEFAULT_KEY_POLICY = {"Version": "2012-10-17", "Statement": [{
    "Sid": "Enable IAM User Permissions", "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"}]}
SIMULATE_WITH_KEY_POLICY = """
import { runSimulation } from '@cloud-copilot/iam-simulate'
const input = JSON.parse(process.argv[1])
const out = []
for (const req of input.requests) {
  const response = await runSimulation({
    identityPolicies: [{ name: 'generated', policy: input.policy }],
    serviceControlPolicies: [], resourceControlPolicies: [],
    resourcePolicy: input.keyPolicy,
    request: { action: req.action, principal: input.principal,
               resource: { resource: req.resource, accountId: input.account },
               contextVariables: req.context }
  }, {})
  out.push(response.resultType === 'error' ? 'Error' : response.overallResult)
}
process.stdout.write(JSON.stringify(out))
"""

needs_simulator = pytest.mark.skipif(
    shutil.which("node") is None
    or not (TOOLS / "node_modules" / "@cloud-copilot" / "iam-simulate").is_dir(),
    reason="iam-simulate is installed by `make tools` (node + .tools)")


def _policy(kms_key_id: str) -> dict:
    env = load_env("glue")
    env = dataclasses.replace(env, aws=dataclasses.replace(env.aws, sse="SSE-KMS",
                                                           kms_key_id=kms_key_id))
    return iam.glue_job_policy(iam.scope_from_env(env, account_id=ACCOUNT,
                                                  artifacts_uri="s3://art/deploy"))


def _kms(policy: dict[str, Any], aliases: list[str]) -> list[str]:
    """iam-simulate's verdicts on GenerateDataKey and Decrypt of KEY, which carries
    ``aliases``, by a role holding ``policy``."""
    payload = {"policy": policy, "keyPolicy": DEFAULT_KEY_POLICY, "account": ACCOUNT,
               "principal": f"arn:aws:iam::{ACCOUNT}:role/lakeforge-glue-job",
               "requests": [{"action": action, "resource": KEY,
                             "context": {"kms:ResourceAliases": aliases}}
                            for action in ("kms:GenerateDataKey", "kms:Decrypt")]}
    proc = subprocess.run(["node", "--input-type=module", "-e", SIMULATE_WITH_KEY_POLICY,
                           json.dumps(payload)], capture_output=True, text=True, timeout=120,
                          cwd=TOOLS, check=True)
    return list(json.loads(proc.stdout))


@needs_simulator
@pytest.mark.parametrize("alias", ["alias/lakeforge-lake",
                                   f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/lakeforge-lake"])
def test_an_alias_as_the_lake_key_allows_the_key_carrying_it_and_no_other(alias):
    policy = _policy(alias)
    assert _kms(policy, ["alias/lakeforge-lake"]) == ["Allowed", "Allowed"]
    assert _kms(policy, ["alias/another"]) == ["ImplicitlyDenied", "ImplicitlyDenied"]
    assert _kms(policy, []) == ["ImplicitlyDenied", "ImplicitlyDenied"]


@needs_simulator
def test_a_key_id_as_the_lake_key_allows_that_key_only():
    policy = _policy("1234abcd-12ab-34cd-56ef-1234567890ab")
    assert _kms(policy, []) == ["Allowed", "Allowed"]
    statement = next(s for s in policy["Statement"] if s["Sid"] == "LakeKmsKey")
    assert statement["Resource"] == KEY and "Condition" not in statement
