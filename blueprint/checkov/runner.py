"""Runs inside checkov's own environment (``.tools/checkov``), never in the project's.

Importing checkov and its check registries costs seconds, so the check starts this script
*before* it captures the plan: checkov warms up while the program runs. The protocol, one JSON
line each way:

1. this script → ``{"ready": true, "version": "3.3.30", "awsTypes": [...]}`` once imported
   (``awsTypes``: the Terraform AWS resource types checkov knows);
2. caller → ``{"argv": [...]}``: checkov's own command line;
3. this script → ``{"exit": <checkov's exit code>}`` after the scan; the report is in the
   ``--output-file-path`` directory the argv names. checkov's console output goes to stderr.

Standard library and checkov only: this file is not importable from the project venv.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import warnings


def main() -> int:
    # The protocol gets its own copy of stdout; fd 1 itself then points at stderr, so nothing
    # else (checkov's console output, its forked workers, C code) can write into the protocol.
    protocol = os.fdopen(os.dup(1), "w")
    sys.stdout.flush()
    os.dup2(2, 1)
    with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        checkov_main = importlib.import_module("checkov.main")
        # The runners the scan will use: their imports load the check registries.
        for module in (
            "checkov.terraform.plan_runner",
            "checkov.kubernetes.runner",
            "checkov.github_actions.runner",
        ):
            importlib.import_module(module)
        version = importlib.import_module("checkov.version").version
        types = importlib.import_module("checkov.common.checks_infra.resources_types")
        ready = {"ready": True, "version": version, "awsTypes": types.resources_types["aws"]}
        protocol.write(json.dumps(ready) + "\n")
        protocol.flush()
        line = sys.stdin.readline()
        if not line:
            return 0  # the caller went away (the check failed before the scan)
        request = json.loads(line)
        code = checkov_main.Checkov(argv=request["argv"]).run()
    protocol.write(json.dumps({"exit": code or 0}) + "\n")
    protocol.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
