"""One exit-code contract for every ``blueprint`` command.

* ``0`` (:data:`PASS`): everything in scope was judged and passed;
* ``1`` (:data:`FINDINGS`): something was judged and failed, or a verdict that judged nothing
  (an empty scope, only "not checked" lines) unless the caller explicitly allowed it;
* ``2`` (:data:`CANNOT_RUN`): the command could not run: invalid input (config, stack file,
  option, path), an unreachable target, a tool that failed.

No input, however malformed, ends in a traceback: it is a ``CANNOT_RUN`` with a message that
names the file or option and the fix.
"""

from __future__ import annotations

PASS = 0
FINDINGS = 1
CANNOT_RUN = 2

CONTRACT = (
    "Exit codes: 0 pass; 1 findings (including a verdict that judged nothing, unless "
    "allowed); 2 could not run or invalid input."
)
"""The sentence every command's ``--help`` carries."""
