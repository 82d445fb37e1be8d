"""Docs that are generated from code stay in step with it."""

from __future__ import annotations

import pytest

from components.config.docs import profile_table, reference_table
from tests.conftest import PROJECT_DIR


@pytest.mark.parametrize("render", [profile_table, reference_table])
def test_environments_doc_shows_the_current_tables(render: object) -> None:
    assert callable(render)
    doc = (PROJECT_DIR / "docs" / "environments.md").read_text()
    assert render() in doc, "run `python -m components.config.docs` and update the doc"


def test_readme_quickstart_is_the_two_make_commands() -> None:
    readme = (PROJECT_DIR / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
