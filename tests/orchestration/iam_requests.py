"""Recorded AWS requests (moto's recorder) as IAM authorization requests, evaluated against
a generated policy by @cloud-copilot/iam-simulate (.tools/iam_simulate.mjs).

Each recorded HTTP request becomes the (action, resource, context) triples IAM checks for it:
Glue catalog calls need the catalog, the database and (for table calls) the table; S3 object
calls the object ARN; ListObjects ``s3:ListBucket`` on the bucket with ``s3:prefix``. A request
this module cannot map raises, so an unmapped call fails the test instead of passing unseen.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

REPO = Path(__file__).resolve().parents[2]
SIMULATE = REPO / ".tools" / "iam_simulate.mjs"

_GLUE_JOB_ACTIONS = {"GetJob", "StartJobRun", "GetJobRun", "GetJobRuns", "BatchStopJobRun"}


def principal(entry: dict[str, Any]) -> str:
    """The access key id a request was signed with (one per role in the tests)."""
    auth = entry["headers"].get("Authorization", "")
    match = re.search(r"Credential=([^/]+)/", auth)
    return match.group(1) if match else ""


def _body(entry: dict[str, Any]) -> bytes:
    body = entry.get("body") or ""
    return base64.b64decode(body) if entry.get("body_encoded") else body.encode()


def _glue(action: str, body: dict[str, Any], region: str, account: str) -> list[tuple]:
    arn = f"arn:aws:glue:{region}:{account}"
    if action in _GLUE_JOB_ACTIONS:
        return [(f"glue:{action}", f"{arn}:job/{body.get('JobName') or body.get('Name')}", {})]
    database = (body.get("DatabaseName") or (body.get("DatabaseInput") or {}).get("Name")
                or body.get("Name"))
    out = [(f"glue:{action}", f"{arn}:catalog", {})]
    if database:
        out.append((f"glue:{action}", f"{arn}:database/{database}", {}))
    table = body.get("TableName") or (body.get("TableInput") or {}).get("Name")
    if action in ("GetTables", "GetPartitions") and not table and database:
        table = "*"
    if database and action not in ("GetDatabase", "CreateDatabase", "GetDatabases") and (
            table or "Table" in action or "Partition" in action):
        out.append((f"glue:{action}", f"{arn}:table/{database}/{table}", {}))
    return out


def _s3(entry: dict[str, Any]) -> list[tuple]:
    url = urlparse(entry["url"])
    query = parse_qs(url.query, keep_blank_values=True)
    parts = url.path.lstrip("/").split("/", 1)
    bucket, key = parts[0], unquote(parts[1]) if len(parts) > 1 else ""
    method = entry["method"]
    if not key:
        if method == "GET" and "uploads" in query:
            return [("s3:ListBucketMultipartUploads", f"arn:aws:s3:::{bucket}", {})]
        if method == "GET" and ("list-type" in query or not query):
            prefix = query.get("prefix", [""])[0]
            return [("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": prefix})]
        if method == "GET" and "location" in query:
            return [("s3:GetBucketLocation", f"arn:aws:s3:::{bucket}", {})]
        if method == "HEAD":
            return [("s3:ListBucket", f"arn:aws:s3:::{bucket}", {})]
        if method == "POST" and "delete" in query:
            keys = re.findall(r"<Key>([^<]+)</Key>", _body(entry).decode())
            return [("s3:DeleteObject", f"arn:aws:s3:::{bucket}/{k}", {}) for k in keys]
        raise ValueError(f"unmapped S3 bucket request {method} {entry['url']}")
    obj = f"arn:aws:s3:::{bucket}/{key}"
    if method in ("GET", "HEAD"):
        return [("s3:GetObject", obj, {})]
    if method in ("PUT", "POST"):
        out = [("s3:PutObject", obj, {})]
        source = entry["headers"].get("x-amz-copy-source") or entry["headers"].get(
            "X-Amz-Copy-Source")
        if source:
            out.append(("s3:GetObject", f"arn:aws:s3:::{unquote(source).lstrip('/')}", {}))
        return out
    if method == "DELETE" and "uploadId" in query:
        return [("s3:AbortMultipartUpload", obj, {})]
    if method == "DELETE":
        return [("s3:DeleteObject", obj, {})]
    raise ValueError(f"unmapped S3 object request {method} {entry['url']}")


def iam_requests(entry: dict[str, Any], region: str, account: str) -> list[tuple]:
    """(action, resource, context) for one recorded request."""
    headers = entry["headers"]
    target = headers.get("X-Amz-Target") or headers.get("x-amz-target")
    if target:
        service, action = target.split(".", 1)
        body = json.loads(_body(entry) or b"{}")
        if service == "AWSGlue":
            return _glue(action, body, region, account)
        if service == "ElasticMapReduce":
            cluster = body.get("JobFlowId") or body.get("ClusterId")
            return [(f"elasticmapreduce:{action}",
                     f"arn:aws:elasticmapreduce:{region}:{account}:cluster/{cluster}", {})]
        raise ValueError(f"unmapped JSON request {target}")
    form = parse_qs(_body(entry).decode(errors="replace"))
    if "Action" in form:
        action = form["Action"][0]
        if action == "Publish":
            target = form.get("TopicArn") or form.get("TargetArn")
            if not target:
                raise ValueError(f"SNS Publish without a topic: {sorted(form)}")
            return [("sns:Publish", target[0], {})]
        raise ValueError(f"unmapped query request {action}")
    auth = headers.get("Authorization", "")
    if "/s3/aws4_request" in auth or "/s3/" in auth:
        return _s3(entry)
    raise ValueError(f"unmapped request {entry['method']} {entry['url']}")


def simulate(policy: dict[str, Any], requests: list[tuple], account: str) -> list[dict]:
    """Evaluate ``requests`` against ``policy``; one result per request
    (``Allowed``, ``ImplicitlyDenied``, ``ExplicitlyDenied`` or ``Error``)."""
    payload = {"policy": policy, "account": account,
               "principal": f"arn:aws:iam::{account}:role/lakeforge-test",
               "requests": [{"action": a, "resource": r, "context": c} for a, r, c in requests]}
    proc = subprocess.run(["node", str(SIMULATE)], input=json.dumps(payload),
                          capture_output=True, text=True, timeout=300, cwd=SIMULATE.parent)
    if proc.returncode:
        raise RuntimeError(f"iam_simulate.mjs failed: {proc.stderr[-2000:]}")
    return list(json.loads(proc.stdout))
