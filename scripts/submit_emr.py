#!/usr/bin/env python
"""Run a Lakeforge job on EMR as a spark-submit step; same as ``lakeforge deploy emr``.

    python scripts/submit_emr.py --job customer_propensity --cluster-id j-1ABCDEF --wait
    python scripts/submit_emr.py --job customer_propensity --create-cluster \\
        --log-uri s3://my-bucket/emr-logs/
"""

from __future__ import annotations

import sys

from lakeforge.cli import main

if __name__ == "__main__":
    sys.exit(main(["deploy", "emr", *sys.argv[1:]]))
