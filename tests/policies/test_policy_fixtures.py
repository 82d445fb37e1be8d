"""Every policy against its pass and fail fixtures: the exact set of violating resources."""

from __future__ import annotations

import pytest

from components.iam_documents import DATA_ACTIONS
from policies.rules import CATALOGUE
from policies.rules.identity import DATA_ACTIONS as PACK_DATA_ACTIONS
from tests.policies.harness import FIXTURES, load_fixture, violating_names

POLICY_NAMES = sorted(CATALOGUE)


def test_the_pack_meets_its_size() -> None:
    kinds = [info.kind for info in CATALOGUE.values()]
    assert kinds.count("resource") >= 35
    assert kinds.count("stack") >= 5


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_every_policy_has_pass_and_fail_fixtures(name: str) -> None:
    fixture = load_fixture(name)
    names = [r.name for r in fixture.resources]
    assert any(n.startswith("pass-") for n in names), name
    assert any(n.startswith("fail-") for n in names), name
    assert all(n.startswith(("pass-", "fail-", "ctx-")) for n in names), names


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_exactly_the_fail_fixtures_violate(name: str) -> None:
    fixture = load_fixture(name)
    expected = {r.name for r in fixture.resources if r.name.startswith("fail-")}
    assert violating_names(name, fixture) == expected


def test_no_fixture_file_without_a_policy() -> None:
    assert {p.stem for p in FIXTURES.glob("*.yaml")} <= set(CATALOGUE)


def test_the_packs_data_actions_are_the_programs() -> None:
    """The pack runs in its own environment and cannot import the program, so it keeps a copy
    of the list the program's IAM builder refuses on every resource; the two must agree."""
    assert PACK_DATA_ACTIONS == DATA_ACTIONS
