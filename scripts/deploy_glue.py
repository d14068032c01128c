#!/usr/bin/env python
"""Create or update the Glue 5.0 job for a Lakeforge job; same as ``lakeforge deploy glue``.

    python scripts/deploy_glue.py --job customer_propensity \\
        --role-arn arn:aws:iam::123456789012:role/lakeforge-glue-job --start --wait
"""

from __future__ import annotations

import sys

from lakeforge.cli import main

if __name__ == "__main__":
    sys.exit(main(["deploy", "glue", *sys.argv[1:]]))
