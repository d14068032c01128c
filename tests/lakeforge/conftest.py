"""Fixtures shared by the tests of lakeforge's modules."""

from __future__ import annotations

import uuid

import pytest

from lakeforge.catalog.glue_api import GlueApiCatalog


@pytest.fixture
def glue(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> GlueApiCatalog:
    """The Glue Data Catalog API on the suite's moto server."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return GlueApiCatalog(region="us-east-1", endpoint_url=moto_endpoint)


@pytest.fixture
def glue_db() -> str:
    """A fresh database name on that catalog (the moto server outlives a test)."""
    return f"db_{uuid.uuid4().hex[:10]}"


DEPLOY_REGION = "eu-west-1"


@pytest.fixture
def moto_deploy(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The suite's moto server emptied (``/moto-api/reset``: the deploy tests count the jobs,
    clusters and steps they made) in the deploy tests' region; returns its endpoint URL."""
    import urllib.request

    monkeypatch.setenv("AWS_DEFAULT_REGION", DEPLOY_REGION)
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(request).close()
    return moto_endpoint
