"""``python -P -m blueprint.diff.emit TREE STACK OUT``: capture TREE's program, write the plan.

Runs in a process of its own so that the program's ``components`` package is imported from
TREE (a base commit laid out in a temporary directory) and never from the checkout the
tooling runs from: ``-P`` keeps the working directory off ``sys.path``, and
:func:`blueprint.capture.capture` puts TREE first. A project below the repository's root
(``bootstrap/``) imports its packages from that root, so TREE's root goes right after it:
otherwise the editable install's path (the checkout) would supply them. The tooling itself
(this module, the mocks) is the current checkout's, so both sides of a diff are judged by the
same engine.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pulumi

from blueprint.capture import capture
from blueprint.check.command import governance_root
from blueprint.stackfile import StackFileError


def main(argv: list[str]) -> int:
    tree, stack, out = Path(argv[0]).resolve(), argv[1], Path(argv[2])
    root = governance_root(tree)
    if root != tree:
        sys.path.insert(0, str(root))
    try:
        plan = capture(tree, stack, preview=True)
    except (StackFileError, pulumi.RunError) as exc:
        print(exc, file=sys.stderr)  # the message alone: the caller shows it, never a traceback
        return 2
    document = {
        "project": plan.project,
        "stack": plan.stack,
        "resources": [dataclasses.asdict(r) for r in plan.resources],
        "outputs": plan.outputs,
    }
    out.write_text(json.dumps(document, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
