"""Least-privilege IAM policy documents for the Glue job role, the EMR instance profile and the
Step Functions role, generated from the env's lake zones and the deployment's locations.

What each policy allows, and nothing else:

* S3: read the job's raw source folders (each ``sources.<name>.path`` of its config, in the
  raw zone) and the artifacts prefix; read, write and delete in the other zones (curated,
  features, quarantine, bookmarks, metadata), the Glue temp dir and the EMR log prefix.
  ``s3:ListBucket`` only with an ``s3:prefix`` condition naming those prefixes.
* Glue Data Catalog: the databases the job's config names (``database`` and
  ``raw_database``, where the write phase registers the raw tables), their tables, partitions
  and functions, plus read-only ``GetDatabase`` on ``default`` (the Hive metastore client asks
  for it at start-up).
* Glue job role only: CloudWatch Logs under ``/aws-glue/`` and ``cloudwatch:PutMetricData``
  restricted to the ``Glue`` namespace (that action has no resource-level permissions).
* KMS: ``Decrypt``/``GenerateDataKey`` on the env's key when the lake uses SSE-KMS (an alias
  in ``aws.kms_key_id``: on the keys carrying it, ``kms:ResourceAliases``).
* Step Functions role: start/poll/stop the named Glue jobs and publish to the named topic.
* Airflow role (:func:`airflow_policy`): what the DAGs call - the named Glue jobs (get, start,
  poll), steps on the EMR cluster(s) named (add, describe, cancel), the SNS topic.

Example::

    scope = scope_from_jobs(env, [read_yaml("conf/jobs/customer_propensity.yaml")],
                            account_id="123456789012",
                            artifacts_uri="s3://my-bucket/lakeforge-deploy")
    json.dumps(glue_job_policy(scope), indent=2)
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lakeforge.aws import split_s3_uri
from lakeforge.deploy import DeployError

log = logging.getLogger(__name__)

READ_ONLY_ZONES = ("raw",)
S3_READ = ["s3:GetObject", "s3:GetObjectVersion"]
S3_WRITE = ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload",
            "s3:ListMultipartUploadParts"]
GLUE_CATALOG_READ = [
    "glue:GetDatabase", "glue:GetDatabases", "glue:GetTable", "glue:GetTables",
    "glue:GetTableVersion", "glue:GetTableVersions", "glue:GetPartition", "glue:GetPartitions",
    "glue:BatchGetPartition", "glue:GetUserDefinedFunction", "glue:GetUserDefinedFunctions",
]
GLUE_CATALOG_WRITE = [
    "glue:CreateDatabase", "glue:CreateTable", "glue:UpdateTable", "glue:DeleteTable",
    "glue:CreatePartition", "glue:BatchCreatePartition", "glue:UpdatePartition",
    "glue:BatchUpdatePartition", "glue:DeletePartition", "glue:BatchDeletePartition",
]
TRUSTED_SERVICES = {
    "glue": "glue.amazonaws.com",
    "emr_ec2": "ec2.amazonaws.com",
    "stepfunctions": "states.amazonaws.com",
}


@dataclass(frozen=True)
class AccessScope:
    """Everything a job may touch: S3 prefixes (as s3:// URIs), databases, account, key."""

    account_id: str
    region: str
    read_prefixes: tuple[str, ...]
    write_prefixes: tuple[str, ...]
    databases: tuple[str, ...]
    kms_key_arn: str | None = None
    partition: str = "aws"

    def validate(self) -> None:
        if not (self.account_id.isdigit() and len(self.account_id) == 12):
            raise DeployError(f"account id {self.account_id!r} must be 12 digits")
        if not self.databases:
            raise DeployError("at least one Glue database is needed")
        for uri in (*self.read_prefixes, *self.write_prefixes):
            _bucket_and_prefix(uri)

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        region = self.region if regional else ""
        return f"arn:{self.partition}:{service}:{region}:{self.account_id}:{resource}"


def _bucket_and_prefix(uri: str) -> tuple[str, str]:
    try:
        bucket, key = split_s3_uri(uri)
    except ValueError as exc:
        raise DeployError(
            f"{uri!r} is not an s3:// location; IAM policies are generated for S3 lakes "
            "(use an env whose lake.root is s3://bucket/prefix)"
        ) from exc
    prefix = key.strip("/")
    if not bucket or any(p in (".", "..") for p in prefix.split("/")) or "*" in uri:
        raise DeployError(f"{uri!r} is not a plain s3://bucket/prefix location")
    return bucket, prefix


def scope_from_env(
    env: Any,
    *,
    account_id: str,
    artifacts_uri: str,
    region: str | None = None,
    extra_write: Sequence[str] = (),
    databases: Sequence[str] = (),
) -> AccessScope:
    """The scope of a job running in ``env`` (an EnvConfig) with artifacts at ``artifacts_uri``.

    ``extra_write`` adds prefixes such as the EMR log URI or the Glue temp dir.
    """
    from lakeforge.paths import Lake

    lake = Lake.from_env(env)
    if not lake.is_remote:
        raise DeployError(
            f"env {env.name}: lake root {lake.root} is not on S3; IAM policies need an "
            "s3:// lake (e.g. --env emr or --env glue)"
        )
    read = [artifacts_uri] + [lake.zone(z) for z in READ_ONLY_ZONES]
    write = [uri for zone, uri in lake.zones.items() if zone not in READ_ONLY_ZONES]
    write += list(extra_write)
    region_name = region or env.aws.region or env.catalog.region
    if not region_name:
        raise DeployError(f"env {env.name}: set aws.region (or pass --region)")
    key = None
    if env.aws.sse == "SSE-KMS":
        if not env.aws.kms_key_id:
            raise DeployError(f"env {env.name}: aws.sse SSE-KMS needs aws.kms_key_id")
        key = env.aws.kms_key_id
        if not key.startswith("arn:"):
            # a key id, or an alias (alias/name), of the account and region
            kind = "" if key.startswith("alias/") else "key/"
            key = f"arn:aws:kms:{region_name}:{account_id}:{kind}{key}"
    scope = AccessScope(
        account_id=account_id,
        region=region_name,
        read_prefixes=tuple(dict.fromkeys(read)),
        write_prefixes=tuple(dict.fromkeys(write)),
        databases=tuple(dict.fromkeys(list(databases) or [env.catalog.database])),
        kms_key_arn=key,
    )
    scope.validate()
    return scope


def scope_from_jobs(
    env: Any,
    jobs: Sequence[Mapping[str, Any]],
    *,
    account_id: str,
    artifacts_uri: str,
    region: str | None = None,
    extra_write: Sequence[str] = (),
    extra_databases: Sequence[str] = (),
) -> AccessScope:
    """The scope of ``jobs`` (their config mappings, conf/jobs/<job>.yaml) running in ``env``:
    read on each job's raw source folders instead of the whole raw zone, and every database a
    job names (``database``, ``raw_database``) plus ``extra_databases``."""
    from lakeforge.paths import Lake

    if not jobs:
        raise DeployError("IAM policies are derived from at least one job's config")
    lake = Lake.from_env(env)
    databases: list[str] = []
    raw: list[str] = []
    for i, cfg in enumerate(jobs):
        where = cfg.get("_source", f"job config #{i + 1}")
        for key in ("database", "raw_database"):
            value = cfg.get(key)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise DeployError(f"{where}: '{key}' must be a database name, got {value!r}")
            if value:
                databases.append(value)
        sources = cfg.get("sources") or {}
        if not isinstance(sources, Mapping):
            raise DeployError(f"{where}: 'sources' must be a mapping of name -> source")
        for name, spec in sources.items():
            path = spec.get("path") if isinstance(spec, Mapping) else None
            if not isinstance(path, str) or not path:
                raise DeployError(f"{where}: 'sources.{name}.path' is missing")
            raw.append(lake.resolve("raw", path).rstrip("/"))
    databases = list(dict.fromkeys([*databases, *extra_databases] or [env.catalog.database]))
    scope = scope_from_env(env, account_id=account_id, artifacts_uri=artifacts_uri,
                           region=region, extra_write=extra_write, databases=databases)
    read = [artifacts_uri, *raw] if raw else list(scope.read_prefixes)
    return dataclasses.replace(scope, read_prefixes=tuple(dict.fromkeys(read)))


# --------------------------------------------------------------------------- statements


def _object_arns(uris: Iterable[str], *, with_folder_key: bool = False) -> list[str]:
    """Object ARNs under each prefix; ``with_folder_key`` adds the prefix's own key, which
    pyarrow's S3 filesystem HEADs to tell a folder from a file (denied, that HEAD is a 403)."""
    out: list[str] = []
    for uri in uris:
        bucket, prefix = _bucket_and_prefix(uri)
        out += [f"arn:aws:s3:::{bucket}/{prefix}/*" if prefix else f"arn:aws:s3:::{bucket}/*"]
        if prefix and with_folder_key:
            out.append(f"arn:aws:s3:::{bucket}/{prefix}")
    return sorted(set(out))


def _list_statements(uris: Iterable[str]) -> list[dict[str, Any]]:
    by_bucket: dict[str, set[str]] = {}
    for uri in uris:
        bucket, prefix = _bucket_and_prefix(uri)
        prefixes = by_bucket.setdefault(bucket, set())
        if prefix:
            prefixes.update({prefix, f"{prefix}/*"})
        else:
            prefixes.add("*")
    # s3:prefix is a condition key of ListBucket only: on GetBucketLocation and
    # ListBucketMultipartUploads (expire_versions aborts a killed write's uploads under a
    # superseded version) it would be absent and the condition never true, so those actions
    # get their own statement.
    return [
        {
            "Sid": f"List{_sid(bucket)}",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": f"arn:aws:s3:::{bucket}",
            "Condition": {"StringLike": {"s3:prefix": sorted(prefixes)}},
        }
        for bucket, prefixes in sorted(by_bucket.items())
    ] + [{"Sid": "LocateLakeBuckets", "Effect": "Allow",
          "Action": ["s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
          "Resource": [f"arn:aws:s3:::{bucket}" for bucket in sorted(by_bucket)]}]


def _sid(text: str) -> str:
    return "".join(part.capitalize() for part in
                   "".join(c if c.isalnum() else " " for c in text).split())


def _s3_statements(scope: AccessScope) -> list[dict[str, Any]]:
    statements = _list_statements([*scope.read_prefixes, *scope.write_prefixes])
    statements.append({
        "Sid": "ReadLakeAndArtifacts", "Effect": "Allow", "Action": S3_READ,
        "Resource": _object_arns([*scope.read_prefixes, *scope.write_prefixes],
                                 with_folder_key=True),
    })
    statements.append({
        "Sid": "WriteLakeZones", "Effect": "Allow", "Action": S3_WRITE,
        "Resource": _object_arns(scope.write_prefixes),
    })
    return statements


def _catalog_statements(scope: AccessScope) -> list[dict[str, Any]]:
    catalog = scope.arn("glue", "catalog")
    dbs = [scope.arn("glue", f"database/{db}") for db in scope.databases]
    tables = [scope.arn("glue", f"table/{db}/*") for db in scope.databases]
    functions = [scope.arn("glue", f"userDefinedFunction/{db}/*") for db in scope.databases]
    return [
        {"Sid": "CatalogRead", "Effect": "Allow", "Action": GLUE_CATALOG_READ,
         "Resource": [catalog, *dbs, *tables, *functions]},
        {"Sid": "CatalogWrite", "Effect": "Allow", "Action": GLUE_CATALOG_WRITE,
         "Resource": [catalog, *dbs, *tables]},
        # The Hive metastore client looks up the default database when it starts.
        {"Sid": "CatalogDefaultDatabase", "Effect": "Allow", "Action": ["glue:GetDatabase"],
         "Resource": [catalog, scope.arn("glue", "database/default")]},
    ]


def _kms_statements(scope: AccessScope) -> list[dict[str, Any]]:
    if not scope.kms_key_arn:
        return []
    statement: dict[str, Any] = {
        "Sid": "LakeKmsKey", "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
        "Resource": scope.kms_key_arn}
    account_region, sep, alias = scope.kms_key_arn.partition(":alias/")
    if sep:
        # An alias ARN as Resource names the alias, not the key behind it (KMS: "Use aliases
        # to control access to KMS keys"): allow the keys of that account and region that
        # carry the alias.
        statement["Resource"] = f"{account_region}:key/*"
        statement["Condition"] = {
            "ForAnyValue:StringEquals": {"kms:ResourceAliases": f"alias/{alias}"}}
    return [statement]


def _document(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements}


def glue_job_policy(scope: AccessScope) -> dict[str, Any]:
    """Inline policy for the Glue job's role."""
    scope.validate()
    log_group = scope.arn("logs", "log-group:/aws-glue/*")
    return _document(
        _s3_statements(scope) + _catalog_statements(scope) + _kms_statements(scope) + [
            {"Sid": "GlueJobLogs", "Effect": "Allow",
             "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                        "logs:AssociateKmsKey"],
             "Resource": [log_group, f"{log_group}:log-stream:*"]},
            # PutMetricData has no resource-level permissions; the namespace condition limits it.
            {"Sid": "GlueJobMetrics", "Effect": "Allow", "Action": ["cloudwatch:PutMetricData"],
             "Resource": "*",
             "Condition": {"StringEquals": {"cloudwatch:namespace": "Glue"}}},
        ]
    )


def emr_instance_profile_policy(scope: AccessScope) -> dict[str, Any]:
    """Inline policy for the EMR cluster's EC2 instance profile role (EMRFS + Glue catalog)."""
    scope.validate()
    return _document(_s3_statements(scope) + _catalog_statements(scope) + _kms_statements(scope))


def step_functions_policy(
    *, account_id: str, region: str, glue_jobs: Sequence[str], topic_arn: str,
) -> dict[str, Any]:
    """Policy for the state machine's role: the named Glue jobs and the SNS topic only."""
    if not glue_jobs:
        raise DeployError("the state machine role needs at least one Glue job name")
    if ":sns:" not in topic_arn:
        raise DeployError(f"{topic_arn!r} is not an SNS topic ARN")
    jobs = [f"arn:aws:glue:{region}:{account_id}:job/{name}" for name in glue_jobs]
    return _document([
        {"Sid": "RunGlueJobs", "Effect": "Allow",
         "Action": ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns",
                    "glue:BatchStopJobRun"],
         "Resource": sorted(set(jobs))},
        {"Sid": "PublishResults", "Effect": "Allow", "Action": ["sns:Publish"],
         "Resource": topic_arn},
    ])


def airflow_policy(
    *, account_id: str, region: str, glue_jobs: Sequence[str], topic_arn: str | None = None,
    emr_cluster_ids: Sequence[str] = (),
) -> dict[str, Any]:
    """Policy for the Airflow workers' role running the Lakeforge DAGs: the named Glue jobs
    (GetJob, which GlueJobOperator calls first, StartJobRun, GetJobRun), the named
    EMR clusters' steps (add, list, describe, cancel) and DescribeCluster - any cluster of
    the account and region when none is named: a cluster id is known only once the cluster
    runs - and, with a topic, SNS Publish."""
    if not glue_jobs and not emr_cluster_ids:
        raise DeployError("the Airflow role needs a Glue job or an EMR cluster")
    jobs = [f"arn:aws:glue:{region}:{account_id}:job/{name}" for name in glue_jobs]
    clusters = [f"arn:aws:elasticmapreduce:{region}:{account_id}:cluster/{c}"
                for c in (emr_cluster_ids or ["*"])]
    statements: list[dict[str, Any]] = []
    if jobs:
        statements.append({"Sid": "RunGlueJobPhases", "Effect": "Allow",
                           "Action": ["glue:GetJob", "glue:StartJobRun", "glue:GetJobRun",
                                      "glue:BatchStopJobRun"],
                           "Resource": sorted(set(jobs))})
    statements.append({"Sid": "RunEmrPhaseSteps", "Effect": "Allow",
                       # ListSteps: a retry looks for the step an earlier try queued
                       # before adding one (EmrPhaseStepOperator in the EMR DAG).
                       # DescribeCluster: a failed step's error says why the cluster ended
                       # (lakeforge.deploy.emr.wait_for_step).
                       "Action": ["elasticmapreduce:AddJobFlowSteps",
                                  "elasticmapreduce:ListSteps",
                                  "elasticmapreduce:DescribeStep",
                                  "elasticmapreduce:DescribeCluster",
                                  "elasticmapreduce:CancelSteps"],
                       "Resource": clusters})
    if topic_arn:
        if ":sns:" not in topic_arn:
            raise DeployError(f"{topic_arn!r} is not an SNS topic ARN")
        statements.append({"Sid": "NotifyFailures", "Effect": "Allow",
                           "Action": ["sns:Publish"], "Resource": topic_arn})
    return _document(statements)


def trust_policy(principal: str) -> dict[str, Any]:
    """The assume-role policy for ``glue``, ``emr_ec2`` or ``stepfunctions``."""
    if principal not in TRUSTED_SERVICES:
        raise DeployError(f"unknown principal {principal!r}; one of {sorted(TRUSTED_SERVICES)}")
    return _document([{"Effect": "Allow", "Action": "sts:AssumeRole",
                       "Principal": {"Service": TRUSTED_SERVICES[principal]}}])


def _with_trusted_service(document: Any, principal: str) -> dict[str, Any] | None:
    """An existing role's trust policy plus the statement letting ``principal``'s service
    assume it, or None when some Allow statement already does (its other statements kept)."""
    from urllib.parse import unquote

    if isinstance(document, str):  # IAM returns it URL-encoded; boto3 usually decodes it
        document = json.loads(unquote(document))
    document = dict(document or {"Version": "2012-10-17", "Statement": []})
    statements = document.get("Statement") or []
    statements = [statements] if isinstance(statements, Mapping) else list(statements)
    service = TRUSTED_SERVICES[principal]

    def listed(value: Any) -> list[Any]:
        return [value] if isinstance(value, str) else list(value or [])

    for statement in statements:
        services = listed((statement.get("Principal") or {}).get("Service")
                          if isinstance(statement.get("Principal"), Mapping) else None)
        # (a Condition, e.g. aws:SourceAccount against the confused deputy, is the user's)
        if (statement.get("Effect") == "Allow" and service in services
                and {"sts:AssumeRole", "sts:*", "*"} & set(listed(statement.get("Action")))):
            return None
    document["Statement"] = [*statements, *trust_policy(principal)["Statement"]]
    return document


# --------------------------------------------------------------------------- inspection


def policy_resources(policy: Mapping[str, Any]) -> list[str]:
    """Every Resource named in ``policy`` (for reviews and tests)."""
    out: list[str] = []
    for statement in policy["Statement"]:
        resource = statement.get("Resource", [])
        out += [resource] if isinstance(resource, str) else list(resource)
    return out


def listed_prefixes(policy: Mapping[str, Any]) -> dict[str, list[str]]:
    """Bucket -> the ``s3:prefix`` values ListBucket is allowed for."""
    out: dict[str, list[str]] = {}
    for statement in policy["Statement"]:
        if "s3:ListBucket" in statement.get("Action", []):
            bucket = str(statement["Resource"]).rsplit(":", 1)[-1]
            out[bucket] = list(statement["Condition"]["StringLike"]["s3:prefix"])
    return out


# --------------------------------------------------------------------------- applying


def apply_role(
    iam: Any,
    role_name: str,
    principal: str,
    policy: Mapping[str, Any],
    *,
    policy_name: str = "lakeforge",
    instance_profile: bool = False,
) -> str:
    """Create the role if missing, (re)write its inline policy; return the role ARN. An
    existing role whose trust policy does not let ``principal``'s service assume it gets that
    statement added (its others kept): Glue, EMR or Step Functions could not use it otherwise.

    With ``instance_profile`` an instance profile of the same name holding the role is made too
    (what EMR's ``JobFlowRole`` names).
    """
    try:
        role = iam.get_role(RoleName=role_name)["Role"]
    except iam.exceptions.NoSuchEntityException:
        arn = iam.create_role(
            RoleName=role_name,
            AssumeRolePolicyDocument=json.dumps(trust_policy(principal)),
            Description=f"Lakeforge {principal} role",
        )["Role"]["Arn"]
        log.info("created role %s", arn)
    else:
        arn = role["Arn"]
        trust = _with_trusted_service(role.get("AssumeRolePolicyDocument"), principal)
        if trust is not None:
            iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=json.dumps(trust))
            log.info("role %s: now trusts %s", arn, TRUSTED_SERVICES[principal])
    iam.put_role_policy(RoleName=role_name, PolicyName=policy_name,
                        PolicyDocument=json.dumps(policy))
    if instance_profile:
        try:
            profile = iam.get_instance_profile(InstanceProfileName=role_name)["InstanceProfile"]
        except iam.exceptions.NoSuchEntityException:
            profile = iam.create_instance_profile(InstanceProfileName=role_name)[
                "InstanceProfile"]
        if role_name not in [r["RoleName"] for r in profile.get("Roles", [])]:
            iam.add_role_to_instance_profile(InstanceProfileName=role_name, RoleName=role_name)
    return str(arn)
