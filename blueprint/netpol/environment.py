"""The analyzer's own environment, ``.tools/netpol``, synced from a hash-locked file
(:class:`blueprint.tool_env.ToolEnvironment`)."""

from __future__ import annotations

from pathlib import Path

from blueprint.tool_env import ToolEnvironment

ENV_DIR = Path(".tools/netpol")
LOCK_FILE = Path("policies/netpol/requirements.lock")
MAKE_TARGET = "make netpol"


class NetpolUnavailableError(RuntimeError):
    """The analyzer's environment is missing and could not be built."""


class NetpolEnvironment(ToolEnvironment):
    ENV_DIR = ENV_DIR
    LOCK_FILE = LOCK_FILE
    LABEL = "the NetworkPolicy analyzer"
    MAKE_TARGET = MAKE_TARGET

    def unavailable(self, message: str) -> Exception:
        return NetpolUnavailableError(message)
