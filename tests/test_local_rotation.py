"""The local deploy runs the rotation at creation against the AWS models, and says so when
it cannot finish (its own moto: the module-scoped deploy of test_local_engine must not see it)."""

from __future__ import annotations

import pytest
from moto import mock_aws
from typer.testing import CliRunner

from blueprint import cli
from blueprint.local.engine import Rotation, deploy
from blueprint.local.models import ROTATION_ATTEMPTS, AwsModels
from blueprint.local.target import MOTO_CONFIG, AwsTarget
from tests.conftest import PROJECT_DIR

pytestmark = pytest.mark.moto

REGION = "eu-central-1"


def test_a_rotation_that_cannot_finish_is_reported_not_hidden() -> None:
    """A group that stays `modifying` beyond every attempt's budget: the deploy says so."""
    with mock_aws(config=MOTO_CONFIG):
        result = deploy(
            PROJECT_DIR,
            "dev",
            AwsTarget(region=REGION),
            models=AwsModels(describes_while_modifying=100_000),
        )
    (rotation,) = result.rotations()
    assert not rotation.completed and rotation.attempts == ROTATION_ATTEMPTS
    assert rotation.error and "modifying" in rotation.error


@pytest.mark.parametrize(
    ("rotation", "failed"),
    [
        (Rotation("fn", steps=4, attempts=1, completed=True, error=None), False),
        (Rotation("fn", steps=6, attempts=3, completed=False, error="still modifying"), True),
    ],
)
def test_an_incomplete_rotation_is_a_finding(
    rotation: Rotation,
    failed: bool,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    class Deployed:
        def rotations(self) -> list[Rotation]:
            return [rotation]

    assert cli._print_rotations(Deployed()) is failed  # type: ignore[arg-type]
    shown = capsys.readouterr()
    assert ("did not complete" in shown.err) is failed
    assert ("completed (4 invocations" in shown.out) is not failed


def test_up_exits_1_when_the_rotation_did_not_complete(monkeypatch: pytest.MonkeyPatch) -> None:
    from blueprint.local import engine  # noqa: PLC0415

    real = engine.deploy
    monkeypatch.setattr(
        engine,
        "deploy",
        lambda project, stack, target: real(
            project, stack, target, models=AwsModels(describes_while_modifying=100_000)
        ),
    )
    result = CliRunner().invoke(cli.app, ["up", "dev", "--local", "--project", str(PROJECT_DIR)])
    assert result.exit_code == 1, result.output
    assert "did not complete" in result.output
