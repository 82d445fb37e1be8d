"""A second project in the repository (bootstrap/) is judged by the repository's governance."""

from __future__ import annotations

from pathlib import Path

from blueprint.check.command import config_dir, governance_root, pack_requests
from blueprint.checkov.scan import CHECKS_DIR, custom_check_types
from tests.conftest import PROJECT_DIR

BOOTSTRAP = PROJECT_DIR / "bootstrap"


def test_the_bootstrap_project_uses_the_repositorys_pack_and_its_own_enforcement() -> None:
    assert governance_root(BOOTSTRAP) == PROJECT_DIR
    assert governance_root(PROJECT_DIR) == PROJECT_DIR
    assert config_dir(BOOTSTRAP) == PROJECT_DIR / "policies" / "config" / "bootstrap"
    assert config_dir(PROJECT_DIR) == PROJECT_DIR / "policies" / "config"
    for stack in ("dev", "staging", "prod"):
        (request,) = pack_requests(BOOTSTRAP, stack, (), ())
        assert request.config_file == config_dir(BOOTSTRAP) / f"{stack}.json"


def test_a_directory_outside_any_governed_repository_is_its_own_root(tmp_path: Path) -> None:
    assert governance_root(tmp_path) == tmp_path


def test_the_custom_checks_declare_what_they_judge() -> None:
    # The scan only expects a custom check's result where the plan has a type it judges.
    assert custom_check_types(PROJECT_DIR / CHECKS_DIR) == {
        "aws_msk_cluster",
        "aws_elasticache_replication_group",
        "aws_launch_template",
        "aws_eks_cluster",
        "Namespace",
    }


def test_a_check_without_declared_types_judges_nothing(tmp_path: Path) -> None:
    (tmp_path / "fp_x.py").write_text("class X: pass\n")
    assert custom_check_types(tmp_path) == set()
