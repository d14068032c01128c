"""Glue Data Quality rulesets on catalog tables: create or update, start an evaluation run.

The ruleset text is parsed and checked locally first (:func:`quality.dqdl.parse_ruleset`), so a
syntax error or an unknown rule type fails here with line and column, not in a Glue run. The
Glue client comes from :func:`lakeforge.aws.client`.

Example::

    glue = client("glue", region="eu-west-1")
    deploy_ruleset(glue, "orders-dq", Path("conf/quality/orders.dqdl").read_text(),
                   database="sales", table="orders")
    run_id = start_evaluation(glue, ["orders-dq"], database="sales", table="orders",
                              role="arn:aws:iam::123456789012:role/glue-dq")
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from lakeforge.deploy import DeployError

log = logging.getLogger(__name__)

MAX_RULESET_CHARS = 65536  # Glue's limit on the Ruleset field


def _not_found(exc: Exception) -> bool:
    error = getattr(exc, "response", {}).get("Error", {})
    return error.get("Code") == "EntityNotFoundException"


def deploy_ruleset(glue: Any, name: str, ruleset: str, *, database: str, table: str,
                   description: str = "", tags: Mapping[str, str] | None = None,
                   catalog_id: str | None = None) -> str:
    """Create the ruleset on ``database.table`` or update its rules; returns "created" or
    "updated". An existing ruleset on another table is an error (Glue cannot move it)."""
    from botocore.exceptions import ClientError

    from quality.dqdl import parse_ruleset

    parsed = parse_ruleset(ruleset, source=f"ruleset {name}")
    if not parsed.rules:
        raise DeployError(f"ruleset {name} has no rules; Glue Data Quality needs at least one")
    if len(ruleset) > MAX_RULESET_CHARS:
        raise DeployError(f"ruleset {name} has {len(ruleset)} characters; Glue allows "
                          f"{MAX_RULESET_CHARS}")
    target: dict[str, str] = {"TableName": table, "DatabaseName": database}
    if catalog_id:
        target["CatalogId"] = catalog_id
    try:
        existing = glue.get_data_quality_ruleset(Name=name)
    except ClientError as exc:
        if not _not_found(exc):
            raise
        request: dict[str, Any] = {"Name": name, "Ruleset": ruleset, "TargetTable": target}
        if description:
            request["Description"] = description
        if tags:
            request["Tags"] = dict(tags)
        glue.create_data_quality_ruleset(**request)
        log.info("created Glue Data Quality ruleset %s on %s.%s", name, database, table)
        return "created"
    current = existing.get("TargetTable") or {}
    if (current.get("DatabaseName"), current.get("TableName")) != (database, table):
        raise DeployError(f"ruleset {name} already exists on {current.get('DatabaseName')}."
                          f"{current.get('TableName')}, not {database}.{table}; choose another "
                          "name or delete it first")
    update: dict[str, Any] = {"Name": name, "Ruleset": ruleset}
    if description:
        update["Description"] = description
    glue.update_data_quality_ruleset(**update)
    log.info("updated Glue Data Quality ruleset %s on %s.%s", name, database, table)
    return "updated"


def start_evaluation(glue: Any, ruleset_names: Sequence[str], *, database: str, table: str,
                     role: str, results_s3_prefix: str | None = None,
                     catalog_id: str | None = None) -> str:
    """Start a Glue Data Quality evaluation run of ``ruleset_names`` on the table; its run id."""
    source: dict[str, Any] = {"GlueTable": {"DatabaseName": database, "TableName": table}}
    if catalog_id:
        source["GlueTable"]["CatalogId"] = catalog_id
    request: dict[str, Any] = {"DataSource": source, "Role": role,
                               "RulesetNames": list(ruleset_names)}
    if results_s3_prefix:
        request["AdditionalRunOptions"] = {"ResultsS3Prefix": results_s3_prefix}
    response = glue.start_data_quality_ruleset_evaluation_run(**request)
    return str(response["RunId"])


__all__ = ["MAX_RULESET_CHARS", "deploy_ruleset", "start_evaluation"]
