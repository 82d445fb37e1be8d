"""Docs that are generated from code stay in step with it."""

from __future__ import annotations

import json
import re
import tomllib

import pytest
import yaml

from blueprint.audit.docs import checks_table, read_only_policy
from blueprint.governance_docs import catalogue
from components.config.docs import profile_table, reference_table
from components.iam_documents import Statement, identity_policy
from tests.conftest import PROJECT_DIR


@pytest.mark.parametrize("render", [profile_table, reference_table])
def test_environments_doc_shows_the_current_tables(render: object) -> None:
    assert callable(render)
    doc = (PROJECT_DIR / "docs" / "environments.md").read_text()
    assert render() in doc, "run `python -m components.config.docs --write`"


def test_readme_quickstart_is_the_two_make_commands() -> None:
    readme = (PROJECT_DIR / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme


def test_readme_states_the_python_range_the_project_requires() -> None:
    project = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]
    bounds = re.fullmatch(r">=3\.(\d+),<3\.(\d+)", project["requires-python"])
    assert bounds, project["requires-python"]
    low, high = bounds.groups()
    readme = (PROJECT_DIR / "README.md").read_text()
    assert f"3.{low} to 3.{int(high) - 1}" in readme


def test_the_project_description_names_what_is_built() -> None:
    description = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["description"]
    assert "to come" not in description
    assert all(part in description for part in ("EKS", "MSK", "ElastiCache"))


@pytest.mark.parametrize("render", [checks_table, read_only_policy])
def test_audit_doc_shows_the_current_checks_and_policy(render: object) -> None:
    assert callable(render)
    doc = (PROJECT_DIR / "docs" / "audit.md").read_text()
    assert render() in doc, "run `python -m blueprint.audit.docs` and update docs/audit.md"


def test_the_auditor_policy_passes_the_least_privilege_rules() -> None:
    document = json.loads(read_only_policy())
    (statement,) = document["Statement"]
    # Built through the same checker as the platform's own policies: it must not refuse.
    identity_policy(Statement(sid="Audit", actions=tuple(statement["Action"]), resources=("*",)))
    assert all(
        action.split(":")[1].startswith(("Describe", "Get", "List"))
        for action in statement["Action"]
    )


def test_governance_doc_shows_the_current_policy_catalogue() -> None:
    doc = (PROJECT_DIR / "docs" / "governance.md").read_text()
    assert catalogue() in doc, "run `python -m blueprint.governance_docs --write`"
