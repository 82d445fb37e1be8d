"""A moto server as a deploy target: a second deploy converges, or starts clean, never duplicates.

A moto server keeps its resources between runs; deploying the same stack into it again used
to fail halfway (``BucketAlreadyOwnedByYou``) after a duplicate VPC and keys were made. Now
the deploy keeps a state there and converges with it, as ``pulumi up`` does with its own.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pulumi
import pytest
import yaml
from typer.testing import CliRunner

from blueprint.cli import app
from blueprint.local import server
from blueprint.local.engine import _changed, _compared
from blueprint.mocks import Where
from tests.conftest import PROJECT_DIR, free_port, moto_server, stack_config, stack_document

pytestmark = pytest.mark.moto

STACK = "dev"
OTHER = "staging"
PROJECT = "feature-platform"
REGION = "eu-central-1"
runner = CliRunner()


def _invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


def _up(endpoint: str, *extra: str, project: Path = PROJECT_DIR) -> tuple[int, str]:
    return _invoke(
        "up", STACK, "--local", "--endpoint", endpoint, "--project", str(project), *extra
    )


def _client(service: str, endpoint: str) -> Any:
    """A client in the stack's own account at the server."""
    config = stack_config(STACK)
    client: Any = boto3.client(  # type: ignore[call-overload]
        service, endpoint_url=endpoint, region_name=config.aws.region,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip

    def in_account(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = config.aws.account_id

    client.meta.events.register("before-sign.*.*", in_account)
    return client


def _vpcs(endpoint: str) -> list[str]:
    """The stack's VPCs (by CIDR) in its own account at the server."""
    cidr = stack_config(STACK).network.cidr
    vpcs = _client("ec2", endpoint).describe_vpcs()["Vpcs"]
    return [v["VpcId"] for v in vpcs if v["CidrBlock"] == cidr]


def _inventory(endpoint: str) -> dict[str, int]:
    """How many of each kind the stack's account holds: a duplicate shows as a larger count."""
    return {
        "vpcs": len(_vpcs(endpoint)),
        "buckets": len(_client("s3", endpoint).list_buckets()["Buckets"]),
        "keys": len(_client("kms", endpoint).list_keys()["Keys"]),
        "secrets": len(_client("secretsmanager", endpoint).list_secrets()["SecretList"]),
        "functions": len(_client("lambda", endpoint).list_functions()["Functions"]),
    }


def _row(output: str, label: str) -> str:
    """The deploy summary's row that starts with ``label``."""
    return next(line for line in output.splitlines() if line.lstrip("│ ").startswith(label))


def _count(output: str, label: str) -> int:
    return int(_row(output, label).split("│")[2].strip())


OTHER_STATE = server.LocalState(
    PROJECT,
    OTHER,
    {("aws:s3/bucket:Bucket", "kept"): server.StoredResource(
        "aws:s3/bucket:Bucket", "kept", {"bucket": "kept"}, "kept", {"arn": "arn:aws:s3:::kept"}
    )},
)  # fmt: skip
"""Another stack's state in the same server: no deploy of STACK may touch it."""


@pytest.fixture(scope="module")
def deployed(endpoint: str) -> str:
    server.reset(endpoint)
    server.save_state(endpoint, REGION, OTHER_STATE)
    code, output = _up(endpoint)
    assert code == 0, output
    assert _count(output, "reused") == 0 and _count(output, "created in moto") > 50
    return endpoint


def test_a_deploy_records_itself_in_the_server(deployed: str) -> None:
    record = server.recorded(deployed, "eu-central-1", "feature-platform", STACK)
    assert record is not None and record.state == server.DEPLOYED
    assert len(_vpcs(deployed)) == 1


def test_a_deploy_saves_its_state_in_the_servers_default_account(deployed: str) -> None:
    state = server.load_state(deployed, REGION, PROJECT, STACK)
    assert state is not None and len(state.resources) > 50
    key = next(r for r in state.resources.values() if r.type == "aws:kms/key:Key")
    assert key.id and key.outputs["arn"].startswith("arn:aws:kms:eu-central-1:111111111111:")
    user = next(
        r for r in state.resources.values()
        if r.type == "aws:elasticache/user:User" and r.inputs.get("userName") == "default"
    )  # fmt: skip
    # The default user's first password is write-only: never kept, never compared.
    assert "passwordsWo" not in user.inputs and user.inputs["passwordsWoVersion"] == 1


def test_a_second_deploy_reuses_every_resource_and_duplicates_nothing(deployed: str) -> None:
    before = _inventory(deployed)
    state = server.load_state(deployed, REGION, PROJECT, STACK)
    assert state is not None
    code, output = _up(deployed)
    assert code == 0, output
    assert f"stack {STACK} is deployed at {deployed}" in output
    assert "converging with its state" in output
    assert _count(output, "reused") == len(state.resources)
    assert _count(output, "created in moto") == 0
    assert "left in moto" not in output
    # The rotation ran in the first deploy; its unchanged schedule does not rotate again.
    assert "not run again" in output and "completed (" not in output
    assert "was not run" not in output
    assert _inventory(deployed) == before and before["vpcs"] == 1
    assert server.load_state(deployed, REGION, PROJECT, STACK) == state
    record = server.recorded(deployed, REGION, PROJECT, STACK)
    assert record is not None and record.state == server.DEPLOYED


def _project_with_key_admin(tmp_path: Path, role: str) -> Path:
    """The project with STACK's KMS key administrator replaced: every key's policy changes."""
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(PROJECT_DIR / name, tmp_path / name)
    (tmp_path / "stacks").mkdir()
    document = stack_document(STACK)
    document["config"]["feature-platform:kms"]["keyAdminRoleArn"] = role
    (tmp_path / "stacks" / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump(document))
    return tmp_path


def test_a_changed_input_stops_naming_the_resource_and_a_revert_converges(
    deployed: str, tmp_path: Path
) -> None:
    before = _inventory(deployed)
    role = "arn:aws:iam::111111111111:role/another-key-admin"
    code, output = _up(deployed, project=_project_with_key_admin(tmp_path, role))
    assert code == 2, output
    stopped = f"the deploy of {STACK} stopped: urn:pulumi:{STACK}::feature-platform::"
    assert stopped in output, output
    assert "(aws:kms/key:Key) changed since it was deployed: policy" in output
    assert "neither updates nor replaces" in output and "--reset" in output
    assert "Traceback" not in output
    record = server.recorded(deployed, REGION, PROJECT, STACK)
    assert record is not None and record.state == server.STOPPED
    state = server.load_state(deployed, REGION, PROJECT, STACK)
    assert state is not None
    key = next(r for r in state.resources.values() if r.type == "aws:kms/key:Key")
    assert role not in key.inputs["policy"]  # the state keeps what moto holds

    # Something the program no longer registers: reported, not deleted, not an error.
    gone = server.StoredResource("aws:sqs/queue:Queue", "retired", {}, "retired", {})
    state.resources[gone.key] = gone
    server.save_state(deployed, REGION, state)
    code, output = _up(deployed)
    assert code == 0, output
    assert _count(output, "created in moto") == 0
    assert "retired (Queue)" in _row(output, "left in moto (the local deploy does not delete)")
    assert _inventory(deployed) == before


def test_another_stacks_state_is_untouched(deployed: str) -> None:
    assert server.load_state(deployed, REGION, PROJECT, OTHER) == OTHER_STATE


def test_a_deploy_interrupted_before_it_saved_its_state_is_refused(deployed: str) -> None:
    server.record(deployed, REGION, PROJECT, STACK, server.DEPLOYING)
    code, output = _up(deployed)
    assert code == 2
    assert f"stack {STACK} is partly or already deployed at {deployed}" in output
    assert "interrupted before it saved its state" in output and "--reset" in output
    assert len(_vpcs(deployed)) == 1
    server.record(deployed, REGION, PROJECT, STACK, server.DEPLOYED)


def test_a_collision_the_record_does_not_know_names_the_urn_and_what_remains(
    deployed: str,
) -> None:
    """A server filled by other means (or an older CLI): the error says what is left."""
    ssm: Any = boto3.client(
        "ssm", endpoint_url=deployed, region_name=REGION,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    ssm.delete_parameter(Name=f"{server.RECORD_PREFIX}/{PROJECT}/{STACK}")
    s3: Any = boto3.client(
        "s3", endpoint_url=deployed, region_name=REGION,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    s3.delete_object(Bucket=server.STATE_BUCKET, Key=f"{PROJECT}/{STACK}.json")
    code, output = _up(deployed)
    assert code == 2, output
    assert f"the deploy stopped: AWS rejected a resource: urn:pulumi:{STACK}::" in output
    assert f"the resources created before it remain at {deployed}, in the stack's state" in output
    assert "fix the cause and re-run to continue" in output
    # What it made before the collision is in its state: a re-run would not make it again.
    record = server.recorded(deployed, REGION, PROJECT, STACK)
    assert record is not None and record.state == server.STOPPED
    state = server.load_state(deployed, REGION, PROJECT, STACK)
    assert state is not None and state.resources


def test_reset_clears_the_server_and_deploys_again_from_scratch(deployed: str) -> None:
    code, output = _up(deployed, "--reset")
    assert code == 0, output
    assert f"moto server at {deployed} cleared (--reset)" in output
    assert "converging" not in output and _count(output, "reused") == 0
    assert len(_vpcs(deployed)) == 1
    record = server.recorded(deployed, REGION, PROJECT, STACK)
    assert record is not None and record.state == server.DEPLOYED
    assert server.load_state(deployed, REGION, PROJECT, OTHER) is None  # every stack cleared


def test_reset_needs_a_server() -> None:
    code, output = _invoke("up", "dev", "--local", "--reset", "--project", str(PROJECT_DIR))
    assert code == 2
    assert "--reset clears a moto server: give its --endpoint URL" in output


def test_an_unreachable_server_is_named_with_the_fix() -> None:
    code, output = _up(f"http://127.0.0.1:{free_port()}")
    assert code == 2
    assert "cannot reach a moto server at http://127.0.0.1:" in output
    assert "blueprint moto-server" in output


def test_moto_server_refuses_a_busy_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, output = _invoke("moto-server", "--port", str(port))
    assert code == 2
    assert f"port {port} on 127.0.0.1 is already in use" in output
    assert "--port" in output


@pytest.mark.parametrize("port", ["0", "65536", "99999", "-1"])
def test_moto_server_refuses_a_port_out_of_range(port: str) -> None:
    code, output = _invoke("moto-server", "--port", port)
    assert code == 2
    assert "--port" in output
    assert "listening" not in output


def _args(inputs: dict[str, Any], typ: str = "aws:s3/bucket:Bucket") -> Any:
    return pulumi.runtime.MockResourceArgs(typ, "r", inputs)


def test_inputs_compare_as_the_engine_compares_them() -> None:
    where = Where(REGION, "111111111111", {"owner": "ml"})
    user = "aws:elasticache/user:User"
    first = _compared(_args({"passwordsWo": "a", "passwordsWoVersion": 1.0}, user), where)
    again = _compared(_args({"passwordsWo": "b", "passwordsWoVersion": 1}, user), where)
    assert _changed(first, again) == []  # a new write-only value is never diffed; 1.0 is 1
    bumped = _compared(_args({"passwordsWo": "b", "passwordsWoVersion": 2}, user), where)
    assert _changed(first, bumped) == ["passwordsWoVersion"]
    tagged = _compared(_args({"tags": {"a": "1"}, "rules": [{"days": 7}]}), where)
    retagged = _compared(_args({"tags": {"a": "2"}, "rules": [{"days": 8}]}), where)
    assert _changed(tagged, retagged) == ["rules[0].days", "tags.a", "tagsAll.a"]
    moved = _compared(_args({}), Where("eu-west-1", "111111111111", {"owner": "ml"}))
    assert _changed(_compared(_args({}), where), moved) == ["(provider).region"]


def test_code_compares_by_content_not_path(tmp_path: Path) -> None:
    one, two = tmp_path / "one.py", tmp_path / "two.py"
    one.write_text("x = 1\n")
    two.write_text("x = 1\n")
    typ = "aws:lambda/function:Function"

    def code(path: Path) -> dict[str, Any]:
        archive = pulumi.AssetArchive({"index.py": pulumi.FileAsset(str(path))})
        return _compared(_args({"code": archive}, typ), Where(REGION, "111111111111"))

    assert _changed(code(one), code(two)) == []
    two.write_text("x = 2\n")
    assert _changed(code(one), code(two)) == ["code.assets.index.py.sha256"]
