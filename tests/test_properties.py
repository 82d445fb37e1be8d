"""Property tests: no input file or argument, however malformed, ends in a traceback.

Each reader either returns its parsed value or raises the project's own error type, whose
message names the file (and the key, where there is one). The CLI answers any argument list
with exit 0, 1 or 2, never an uncaught exception. Examples are derandomized (tests/conftest.py).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from blueprint.check import CheckError
from blueprint.check.config import PolicyMeta, read_config_file, reconcile
from blueprint.check.errors import PolicyConfigError
from blueprint.checkov import suppressions
from blueprint.cli import app
from blueprint.diff.allowances import AllowanceError
from blueprint.diff.allowances import load as load_allowances
from tests.conftest import PROJECT_DIR

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
"""Any JSON value."""
LEVEL_WORDS = st.sampled_from(["mandatory", "advisory", "disabled", "remediate", "all", "x"])
POLICY_CONFIGS = st.dictionaries(
    LEVEL_WORDS | st.text(max_size=10),
    LEVEL_WORDS
    | st.dictionaries(st.sampled_from(["enforcementLevel", "limit"]), JSON, max_size=3)
    | JSON,
    max_size=4,
)
"""Objects shaped like policy configs, often almost right."""
YAML_TEXT = st.text(
    alphabet=st.sampled_from([*"abc-:_ \n\t[]{}'\"#&*!|>%@`0123456789.,/", "\u00e9"]),
    max_size=120,
)
"""Text made of YAML's syntax characters: most of it malformed in some way."""


@contextmanager
def written(content: bytes, name: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / name
        path.write_bytes(content)
        yield path


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


@given(st.binary(max_size=200) | POLICY_CONFIGS.map(json.dumps) | JSON.map(json.dumps))
def test_any_policy_config_is_read_or_refused_naming_the_file(content: str | bytes) -> None:
    policies = [
        PolicyMeta(
            name="mandatory",
            description="a policy",
            enforcement_level="mandatory",
            severity="high",
            kind="resource",
        )
    ]
    with written(_bytes(content), "dev.json") as path:
        try:
            reconcile(policies, {}, read_config_file(path), path)
        except PolicyConfigError as exc:
            assert str(path) in str(exc) or "policy pack config" in str(exc)


@given(
    st.binary(max_size=200)
    | YAML_TEXT
    | st.builds(
        lambda check, resource, reason, expires: (
            f"suppressions:\n  - check: {check}\n    resource: {resource}\n"
            f"    reason: {reason}\n    expires: {expires}\n"
        ),
        st.sampled_from(["CKV_AWS_1", "CKV2_AWS_6", "x", ""]),
        st.text(max_size=8),
        st.text(max_size=40),
        st.sampled_from(["2027-06-30", "2027-13-45", "tomorrow", "", "[1]"]),
    )
)
def test_any_suppression_file_is_read_or_refused_naming_the_file(content: str | bytes) -> None:
    with written(_bytes(content), "suppressions.yaml") as path:
        try:
            suppressions.load(path)
        except CheckError as exc:
            assert str(path) in str(exc)


@given(st.binary(max_size=200) | YAML_TEXT)
def test_any_allowance_file_is_read_or_refused_naming_the_file(content: str | bytes) -> None:
    with written(_bytes(content), "replacements.yaml") as path:
        try:
            load_allowances(path)
        except AllowanceError as exc:
            assert str(path) in str(exc)


OPTIONS = {
    "preview": ["--json", "--diagram"],
    "check": ["--severity-threshold", "--sarif", "--json", "--policy-pack-config", "--base"],
    "diff": ["--base", "--json"],
    "audit": ["--endpoint", "--region", "--account", "--profile"],
    "preflight": ["--endpoint", "--region", "--profile"],
    "up": ["--endpoint", "--json"],
}
STACKS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_./[]", min_size=1, max_size=10).filter(
    lambda s: s not in {"dev", "staging", "prod"}
)
"""Stack names of no checked-in stack: every run stops before any capture or network call."""


@st.composite
def arguments(draw: st.DrawFn) -> list[str]:
    command = draw(st.sampled_from(sorted(OPTIONS)))
    argv = [command, draw(STACKS)]
    for option in draw(st.lists(st.sampled_from(OPTIONS[command]), max_size=3)):
        argv += [option, draw(st.text(max_size=12) | st.just("http://127.0.0.1:1"))]
    if command == "up":
        argv.append("--local")
    return [*argv, "--project", str(PROJECT_DIR)]


@pytest.mark.filterwarnings("ignore")
@given(arguments())
def test_any_arguments_exit_with_the_contract_and_never_a_traceback(argv: list[str]) -> None:
    result = CliRunner().invoke(app, argv)
    assert result.exit_code in {0, 1, 2}, (argv, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        argv,
        repr(result.exception),
    )
    assert "Traceback" not in result.output
