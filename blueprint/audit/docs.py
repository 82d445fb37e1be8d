"""Render the audit's check table and its read-only IAM policy for ``docs/audit.md``.

``python -m blueprint.audit.docs`` prints both; a test keeps the doc in step.
"""

from __future__ import annotations

import json

import blueprint.audit.runner  # noqa: F401 (importing the runner registers every check)
from blueprint.audit.model import CHECKS


def checks_table() -> str:
    lines = ["| check | what it asserts | service | applies to a plan with |", "|---|---|---|---|"]
    lines += [
        f"| `{c.id}` | {c.title} | {c.service} | {', '.join(f'`{t}`' for t in c.types)} |"
        for c in CHECKS.values()
    ]
    return "\n".join(lines)


def read_only_policy() -> str:
    """The identity policy an auditor role needs: read-only actions, listed explicitly."""
    actions = sorted({action for c in CHECKS.values() for action in c.permissions})
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "FeaturePlatformAudit", "Effect": "Allow", "Action": actions, "Resource": "*"}
        ],
    }
    return json.dumps(document, indent=2)


if __name__ == "__main__":
    print(checks_table())
    print()
    print(read_only_policy())
