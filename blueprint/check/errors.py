"""Why a policy check could not run (as opposed to a check that ran and found violations)."""

from __future__ import annotations


class CheckError(Exception):
    """The check could not run; the message names what to fix (``blueprint check`` exits 2)."""


class PolicyConfigError(CheckError):
    """A policy-pack config file is unreadable, names an unknown policy or holds a bad value."""


class PackError(CheckError):
    """A policy pack failed to start, died, or failed an RPC; the message carries its stderr."""
