"""Offline CrossGuard: run Pulumi policy packs over a captured plan, as the engine would;
with checkov (:mod:`blueprint.checkov`), the one verdict of ``blueprint check``.

- :mod:`~blueprint.check.pack`: a pack directory and the command that serves it;
- :mod:`~blueprint.check.process`: start it, read its port, always stop it;
- :mod:`~blueprint.check.config`: the ``--policy-pack-config`` file, merged and validated;
- :mod:`~blueprint.check.wire`: the plan as the engine sends it (secrets, providers, stack);
- :mod:`~blueprint.check.driver`: the RPCs, in the engine's order;
- :mod:`~blueprint.check.report`: findings, remediations, the verdict, tables and JSON;
- :mod:`~blueprint.check.command`: which packs, which config files, the stack they see;
- :mod:`~blueprint.check.judge`: ``blueprint check STACK``: the packs and checkov, one verdict;
- :mod:`~blueprint.check.verdict`: results of both sources, severities, the threshold;
- :mod:`~blueprint.check.enforcement`: a config that enforces nothing (exit 1; prod: exit 2);
- :mod:`~blueprint.check.locations`: the stack-file line that configures a finding's resource;
- :mod:`~blueprint.check.outputs`: report and export paths, checked first, stale ones removed;
- :mod:`~blueprint.check.formats`: the verdict as SARIF, JUnit and Markdown.
"""

from blueprint.check.command import pack_requests, stack_target
from blueprint.check.driver import PackRequest, StackTarget, check_plan, evaluate, running
from blueprint.check.errors import CheckError, PackError, PolicyConfigError
from blueprint.check.pack import PolicyPackDir, load_pack
from blueprint.check.report import CheckReport, Finding, Remediation

__all__ = [
    "CheckError",
    "CheckReport",
    "Finding",
    "PackError",
    "PackRequest",
    "PolicyConfigError",
    "PolicyPackDir",
    "Remediation",
    "StackTarget",
    "check_plan",
    "evaluate",
    "load_pack",
    "pack_requests",
    "running",
    "stack_target",
]
