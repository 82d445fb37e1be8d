"""IAM policies evaluated offline, to prove tenant isolation by decision, not by string.

- :mod:`~blueprint.iam_eval.client`: :func:`~blueprint.iam_eval.client.evaluate`, typed inputs
  and decisions (the only module the project imports);
- :mod:`~blueprint.iam_eval.environment`: the evaluator's own environment, ``.tools/iam-eval``;
- :mod:`~blueprint.iam_eval.runner`: the script that environment runs (principalmapper, AGPL-3.0,
  test-only; docs/adr/0024-offline-iam-evaluation.md).
"""
