"""The evaluator's own environment, ``.tools/iam-eval``, synced from a hash-locked file
(:class:`blueprint.tool_env.ToolEnvironment`)."""

from __future__ import annotations

from pathlib import Path

from blueprint.tool_env import ToolEnvironment

ENV_DIR = Path(".tools/iam-eval")
LOCK_FILE = Path("policies/iam-eval/requirements.lock")
MAKE_TARGET = "make iam-eval"


class IamEvalUnavailableError(RuntimeError):
    """The evaluator's environment is missing and could not be built."""


class IamEvalEnvironment(ToolEnvironment):
    ENV_DIR = ENV_DIR
    LOCK_FILE = LOCK_FILE
    LABEL = "the IAM evaluator"
    MAKE_TARGET = MAKE_TARGET

    def unavailable(self, message: str) -> Exception:
        return IamEvalUnavailableError(message)
