"""Stack files and ``Pulumi.yaml`` as input: every wrong input is a clean error.

Two layers judge them. :mod:`blueprint.stackfile` reads the files as the Pulumi CLI does and
refuses what the CLI refuses (duplicate keys, documents that are not mappings) with a
:class:`StackFileError` naming the file; the program's loader judges every key the engine
passes, whatever its namespace (:mod:`components.config.keys`), and stops with a
``pulumi.RunError`` naming the stack file and the key before any resource is registered.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from blueprint.capture import RecordingMonitor, capture, capture_program
from blueprint.mocks import PlatformMocks
from blueprint.stackfile import StackFileError, read_project, read_stack
from components.config import (
    ConfigError,
    Environment,
    StackConfig,
    load_stack_config,
    parse_engine_config,
)
from components.config.keys import DISABLE_DEFAULT_PROVIDERS
from tests.conftest import PROJECT_DIR, STACKS, stack_document

Edit = Callable[[dict[str, Any]], None]


def _project(tmp_path: Path, stacks: dict[str, str], pulumi_yaml: str | None = None) -> Path:
    """A copy of the project (its Pulumi.yaml and program) with the given stack files."""
    if pulumi_yaml is None:
        shutil.copy(PROJECT_DIR / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    else:
        (tmp_path / "Pulumi.yaml").write_text(pulumi_yaml)
    shutil.copy(PROJECT_DIR / "__main__.py", tmp_path / "__main__.py")
    (tmp_path / "stacks").mkdir()
    for stack, text in stacks.items():
        (tmp_path / "stacks" / f"Pulumi.{stack}.yaml").write_text(text)
    return tmp_path


def _variant(stack: str, edit: Edit) -> str:
    """The checked-in stack file of ``stack``, with ``edit`` applied to its ``config``."""
    document = copy.deepcopy(stack_document(stack))
    edit(document["config"])
    return yaml.safe_dump(document, sort_keys=False)


def _problems(text: str, stack: str = "dev", tmp_path: Path | None = None) -> dict[str, str]:
    """The problems the program reports for a stack file with ``text``."""
    assert tmp_path is not None
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_text(text)
    settings = read_stack(read_project(PROJECT_DIR), stack, path=path)
    with pytest.raises(ConfigError) as caught:
        parse_engine_config(
            settings.config,
            source=f"stacks/Pulumi.{stack}.yaml",
            stack=stack,
            secret_keys=settings.secret_keys,
        )
    assert caught.value.source == f"stacks/Pulumi.{stack}.yaml"
    return dict(caught.value.problems)


def _cli(*args: str) -> tuple[int, str]:
    from typer.testing import CliRunner  # noqa: PLC0415 (the CLI only where a test needs it)

    from blueprint.cli import app  # noqa: PLC0415

    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def _rename(old: str, new: str, value: Any = None) -> Edit:
    def edit(config: dict[str, Any]) -> None:
        config[new] = config.pop(old) if value is None else value

    return edit


def _add(key: str, value: Any) -> Edit:
    def edit(config: dict[str, Any]) -> None:
        config[key] = value

    return edit


def _remove(key: str) -> Edit:
    def edit(config: dict[str, Any]) -> None:
        del config[key]

    return edit


# --- the accepted cases -------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_checked_in_stacks_pass_every_key_rule(stack: str) -> None:
    settings = read_stack(read_project(PROJECT_DIR), stack)
    config = parse_engine_config(settings.config, source=f"stacks/Pulumi.{stack}.yaml", stack=stack)
    assert config.environment is Environment(stack)
    assert settings.config[DISABLE_DEFAULT_PROVIDERS] == '["aws", "kubernetes"]'
    assert settings.secret_keys == []


def test_disabling_every_default_provider_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(_variant("dev", _add(DISABLE_DEFAULT_PROVIDERS, ["*"])))
    settings = read_stack(read_project(PROJECT_DIR), "dev", path=path)
    assert parse_engine_config(settings.config, source="stacks/Pulumi.dev.yaml", stack="dev")


def test_yaml_merge_keys_may_override_and_timestamps_stay_strings(tmp_path: Path) -> None:
    text = (PROJECT_DIR / "stacks" / "Pulumi.dev.yaml").read_text()
    text = "base: &base {a: 1}\nmerged: {<<: *base, a: 2}\n" + text.replace(
        "    dataClassification: internal\n",
        "    dataClassification: internal\n    extra: {review-date: 2026-01-31}\n",
    )
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(text)
    settings = read_stack(read_project(PROJECT_DIR), "dev", path=path)
    config = parse_engine_config(settings.config, source="stacks/Pulumi.dev.yaml", stack="dev")
    assert config.tags.extra == {"review-date": "2026-01-31"}


# --- 1. a misspelt namespace --------------------------------------------------------------


def test_a_misspelt_namespace_names_the_key_and_the_closest_project_key(tmp_path: Path) -> None:
    text = _variant("prod", _rename("feature-platform:identity", "feature-platfrom:identity"))
    problems = _problems(text, "prod", tmp_path)
    assert "did you mean feature-platform:identity?" in problems["feature-platfrom:identity"]


def test_a_misspelt_namespace_stops_prod_before_any_resource(tmp_path: Path) -> None:
    project = _project(
        tmp_path,
        {
            "prod": _variant(
                "prod", _rename("feature-platform:identity", "feature-platfrom:identity")
            )
        },
    )
    monitor = RecordingMonitor(PlatformMocks())
    with pytest.raises(pulumi.RunError) as caught:
        capture(project, "prod", monitor=monitor)
    message = str(caught.value)
    assert "stacks/Pulumi.prod.yaml" in message
    assert "feature-platfrom:identity: unknown namespace 'feature-platfrom'" in message
    assert "did you mean feature-platform:identity?" in message
    assert monitor.recorded == []


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        ("random:length", "unknown namespace 'random'"),
        ("featureplatform:network", "did you mean feature-platform:network?"),
        ("pulumi:autonaming", "not an engine setting this project uses"),
        ("pulumi:disable-default-provider", f"did you mean {DISABLE_DEFAULT_PROVIDERS}?"),
    ],
)
def test_keys_no_one_reads_are_refused(tmp_path: Path, key: str, fragment: str) -> None:
    problems = _problems(_variant("dev", _add(key, "x")), "dev", tmp_path)
    assert fragment in problems[key]


# --- 2. duplicate keys --------------------------------------------------------------------


def _lines(text: str, fragment: str) -> list[int]:
    return [n for n, line in enumerate(text.splitlines(), 1) if line.startswith(fragment)]


@pytest.mark.parametrize(
    ("duplicate", "key"),
    [
        ("  feature-platform:environment: staging\n", "feature-platform:environment"),
        (
            "  feature-platform:logging:\n    retentionDays: 30\n    retentionDays: 90\n",
            "retentionDays",
        ),
        ("secretsprovider: passphrase\n", "secretsprovider"),
    ],
    ids=["config key", "nested key", "top-level key"],
)
def test_duplicate_keys_are_refused_with_both_lines(
    tmp_path: Path, duplicate: str, key: str
) -> None:
    text = (PROJECT_DIR / "stacks" / "Pulumi.dev.yaml").read_text() + duplicate
    project = _project(tmp_path, {"dev": text})
    with pytest.raises(StackFileError) as caught:
        read_stack(read_project(project), "dev")
    message = str(caught.value)
    lines = _lines(text, duplicate.splitlines()[-1].split(":")[0] + ":")
    first, second = lines[0], lines[-1]
    assert str(project / "stacks" / "Pulumi.dev.yaml") in message
    assert f"duplicate key {key!r} at line {second} (first at line {first})" in message


def test_duplicate_keys_in_pulumi_yaml_are_refused(tmp_path: Path) -> None:
    text = (PROJECT_DIR / "Pulumi.yaml").read_text() + "name: other\n"
    project = _project(tmp_path, {}, pulumi_yaml=text)
    with pytest.raises(StackFileError, match=r"Pulumi\.yaml: duplicate key 'name' at line \d+"):
        read_project(project)


# --- 3. and 5. provider keys and credentials ----------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("aws:region", "eu-west-1", "set feature-platform:aws.region instead"),
        ("aws:allowedAccountIds", ["111111111111"], "set feature-platform:aws.accountId instead"),
        ("aws:assumeRole", {"roleArn": "x"}, "set feature-platform:aws.assumeRoleArn instead"),
        ("aws:defaultTags", {"tags": {"a": "b"}}, "set feature-platform:tags instead"),
        ("aws:profile", "dev", "set AWS_PROFILE in the environment"),
        ("aws:skipMetadataApiCheck", "true", "has no effect"),
        ("kubernetes:context", "dev", "built from the EKS cluster this stack creates"),
        ("aws:accessKey", "AKIAEXAMPLE", "credentials never belong in a stack file"),
        ("aws:secretKey", "abc", "credentials never belong in a stack file"),
        ("aws:token", "abc", "credentials never belong in a stack file"),
        ("aws:secretKey", {"secure": "v1:abc"}, "credentials never belong in a stack file"),
    ],
)
def test_provider_keys_point_at_the_project_key_or_the_environment(
    tmp_path: Path, key: str, value: Any, fragment: str
) -> None:
    problems = _problems(_variant("dev", _add(key, value)), "dev", tmp_path)
    assert fragment in problems[key]
    if "credentials" in fragment:
        assert "AWS_PROFILE, SSO or the CI role" in problems[key]


# --- 4. default providers stay disabled ---------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (_remove(DISABLE_DEFAULT_PROVIDERS), "is missing"),
        (_add(DISABLE_DEFAULT_PROVIDERS, ["aws"]), "default provider of kubernetes enabled"),
        (_add(DISABLE_DEFAULT_PROVIDERS, []), "default provider of aws, kubernetes enabled"),
        (_add(DISABLE_DEFAULT_PROVIDERS, "aws"), "not a list of packages"),
        (_add(DISABLE_DEFAULT_PROVIDERS, True), "not a list of packages"),
        (_add(DISABLE_DEFAULT_PROVIDERS, {"aws": True}), "not a list of packages"),
    ],
    ids=["removed", "aws only", "empty", "a string", "a bool", "a map"],
)
def test_a_stack_cannot_re_enable_default_providers(
    tmp_path: Path, edit: Edit, fragment: str
) -> None:
    problems = _problems(_variant("staging", edit), "staging", tmp_path)
    assert fragment in problems[DISABLE_DEFAULT_PROVIDERS]
    assert "[aws, kubernetes]" in problems[DISABLE_DEFAULT_PROVIDERS]


# --- 6. secure: on a setting that is not a secret -----------------------------------------


def test_secure_on_a_setting_that_is_not_a_secret_is_refused(tmp_path: Path) -> None:
    def secure_boundary(config: dict[str, Any]) -> None:
        config["feature-platform:identity"] = {"permissionsBoundaryArn": {"secure": "v1:abc"}}

    problems = _problems(_variant("prod", secure_boundary), "prod", tmp_path)
    message = problems["feature-platform:identity"]
    assert message.startswith("is not a secret setting; remove `secure:`")
    assert "secret settings: none" in message


# --- 7. stack name and environment --------------------------------------------------------


def test_a_copied_stack_file_under_a_new_name_is_refused(tmp_path: Path) -> None:
    problems = _problems(_variant("staging", lambda c: None), "staging-eu", tmp_path)
    message = problems["feature-platform:environment"]
    assert "'staging' in stack 'staging-eu'" in message
    assert "feature-platform-staging" in message and "rename the stack" in message


def test_a_stack_named_after_an_environment_keeps_that_environment(tmp_path: Path) -> None:
    problems = _problems(
        _variant("prod", _add("feature-platform:environment", "dev")), "prod", tmp_path
    )
    assert (
        "must use that environment's profile ('prod')" in problems["feature-platform:environment"]
    )


def test_the_copied_stack_stops_the_cli_with_exit_2(tmp_path: Path) -> None:
    project = _project(tmp_path, {"dev2": _variant("dev", lambda c: None)})
    code, output = _cli("preview", "dev2", "--project", str(project))
    assert code == 2, output
    assert "stacks/Pulumi.dev2.yaml" in output and "feature-platform:environment" in output
    assert "Traceback" not in output


# --- 8. malformed files -------------------------------------------------------------------

MALFORMED_STACKS = {
    "not YAML": "config: [unclosed\n",
    "a list": "- config\n",
    "a string": "just text\n",
    "config is a list": "config:\n  - feature-platform:environment\n",
    "config is a string": "config: dev\n",
    "a key that is not a name": "config:\n  1: dev\n",
    "a custom tag": "config:\n  feature-platform:environment: !Ref dev\n",
    "not UTF-8": "config:\n  feature-platform:environment: d\xe9v\n",
}


@pytest.mark.parametrize("text", MALFORMED_STACKS.values(), ids=MALFORMED_STACKS.keys())
def test_a_malformed_stack_file_is_a_stack_file_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "stacks" / "Pulumi.dev.yaml"
    project = _project(tmp_path, {})
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(StackFileError) as caught:
        read_stack(read_project(project), "dev")
    assert str(path) in str(caught.value)


MALFORMED_PROJECTS = {
    "not YAML": ("name: [x\n", "is not valid YAML"),
    "a list": ("- name\n", "the project file must be a mapping"),
    "no name": ("runtime: python\nstackConfigDir: stacks\n", "'name' is missing"),
    "a name that is a map": ("name: {a: 1}\nruntime: python\n", "'name' is missing"),
    "no runtime": ("name: feature-platform\nstackConfigDir: stacks\n", "'runtime' is missing"),
    "a runtime without a name": (
        "name: feature-platform\nruntime: {options: {}}\n",
        "'runtime' is missing",
    ),
    "config is a list": (
        "name: feature-platform\nruntime: python\nconfig: [a]\n",
        "'config' must be a mapping",
    ),
    "stackConfigDir is a list": (
        "name: feature-platform\nruntime: python\nstackConfigDir: [a]\n",
        "'stackConfigDir' must be a directory path",
    ),
}


@pytest.mark.parametrize(
    ("text", "fragment"), MALFORMED_PROJECTS.values(), ids=MALFORMED_PROJECTS.keys()
)
def test_a_malformed_pulumi_yaml_is_a_stack_file_error(
    tmp_path: Path, text: str, fragment: str
) -> None:
    project = _project(tmp_path, {}, pulumi_yaml=text)
    with pytest.raises(StackFileError) as caught:
        read_project(project)
    assert str(project / "Pulumi.yaml") in str(caught.value)
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("pulumi_yaml", "stack_text", "fragment"),
    [
        ("name: [x\n", None, "Pulumi.yaml is not valid YAML"),
        (None, "config: dev\n", "Pulumi.dev.yaml: 'config' must be a mapping"),
        (None, "- config\n", "Pulumi.dev.yaml: a stack file must be a mapping"),
        (None, "config:\n  a: 1\n  a: 2\n", "duplicate key 'a' at line 3 (first at line 2)"),
    ],
    ids=["Pulumi.yaml not YAML", "config not a map", "stack file not a map", "duplicate key"],
)
@pytest.mark.parametrize("command", ["preview", "check"])
def test_every_command_exits_2_with_the_message(
    tmp_path: Path, command: str, pulumi_yaml: str | None, stack_text: str | None, fragment: str
) -> None:
    text = stack_text or (PROJECT_DIR / "stacks" / "Pulumi.dev.yaml").read_text()
    project = _project(tmp_path, {"dev": text}, pulumi_yaml=pulumi_yaml)
    policies = PROJECT_DIR / "policies"
    extra = [
        *("--no-checkov", "--policy-pack", str(policies)),
        *("--policy-pack-config", str(policies / "config" / "dev.json")),
    ]
    extra = extra if command == "check" else []
    code, output = _cli(command, "dev", "--project", str(project), *extra)
    assert code == 2, output
    assert fragment in " ".join(output.split())
    assert "Traceback" not in output


def test_diff_shows_the_programs_message_not_a_traceback(tmp_path: Path) -> None:
    text = (PROJECT_DIR / "stacks" / "Pulumi.dev.yaml").read_text()
    project = _project(tmp_path, {"dev": text})
    git = ["git", "-C", str(project), "-c", "user.email=t@example.com", "-c", "user.name=t"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "base"]):
        subprocess.run([*git, *args], check=True, capture_output=True)
    (project / "stacks" / "Pulumi.dev.yaml").write_text(text + "  aws:region: eu-west-1\n")
    code, output = _cli("diff", "dev", "--project", str(project))
    assert code == 2, output
    assert "stacks/Pulumi.dev.yaml" in output
    assert "aws:region: has no effect" in output and "feature-platform:aws.region" in output
    assert "Traceback" not in output


# --- property: nothing but a config or a clean error --------------------------------------

KEYS = [
    "config",
    "secretsprovider",
    "feature-platform:environment",
    "feature-platform:aws",
    "feature-platform:tags",
    "feature-platfrom:tags",
    DISABLE_DEFAULT_PROVIDERS,
    "aws:region",
    "aws:secretKey",
    "environment",
    "region",
    "secure",
    "owner",
    "cidr",
]


def _load(path: Path, stack: str) -> StackConfig | None:
    """What the CLI does with a stack file: read it, then run the program's loader."""
    settings = read_stack(read_project(PROJECT_DIR), stack, path=path)
    found: list[StackConfig] = []
    capture_program(
        lambda: found.append(load_stack_config()),
        stack=stack,
        config=settings.config,
        secret_keys=settings.secret_keys,
    )
    return found[0] if found else None


_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8),
    st.sampled_from(["dev", "prod", "eu-central-1", "10.0.0.0/16", "[", "{", "*"]),
)  # fmt: skip
_keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=6), st.integers())
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_keys, inner, max_size=4)),
    max_leaves=12,
)
_documents = st.one_of(
    _values,
    st.dictionaries(_keys, _values, max_size=4),
    st.fixed_dictionaries({"config": st.dictionaries(_keys, _values, max_size=6)}),
)


@given(
    document=_documents,
    change=st.one_of(st.none(), st.dictionaries(_keys, _values, max_size=3)),
    mutation=st.sampled_from(["none", "duplicate last line", "truncate", "tab"]),
    stack=st.sampled_from(STACKS),
)
def test_random_stack_files_give_a_config_or_a_clean_error(
    tmp_path_factory: pytest.TempPathFactory,
    document: Any,
    change: dict[Any, Any] | None,
    mutation: str,
    stack: str,
) -> None:
    if change is not None:  # a checked-in stack file with a few keys changed
        document = copy.deepcopy(stack_document(stack))
        document["config"].update(change)
    text = yaml.safe_dump(document, sort_keys=False)
    if mutation == "duplicate last line":
        text += text.splitlines()[-1] + "\n"
    elif mutation == "truncate":
        text = text[: len(text) // 2]
    elif mutation == "tab":
        text = text.replace("  ", "\t", 1)
    path = tmp_path_factory.getbasetemp() / f"Pulumi.{stack}.yaml"
    path.write_text(text)
    try:
        result = _load(path, stack)
    except (StackFileError, pulumi.RunError):
        return  # the clean errors; anything else fails the test
    assert isinstance(result, StackConfig)


_project_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
_project_keys = st.sampled_from(["name", "runtime", "stackConfigDir", "config", "description"])


@given(document=st.one_of(_project_values, st.dictionaries(_project_keys, _project_values)))
def test_random_project_files_give_a_project_or_a_clean_error(
    tmp_path_factory: pytest.TempPathFactory, document: Any
) -> None:
    directory = tmp_path_factory.getbasetemp() / "random-project"
    directory.mkdir(exist_ok=True)
    (directory / "Pulumi.yaml").write_text(yaml.safe_dump(document))
    try:
        read_project(directory)
    except StackFileError:
        return  # the clean error; anything else fails the test
