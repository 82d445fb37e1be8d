"""``blueprint diff``: what a change does to a stack's resources, as the engine would decide it.

- :mod:`~blueprint.diff.rules`: the data: ForceNew paths per type (from the Terraform AWS
  provider's schemas, sources recorded), stateful types, physical names;
- :mod:`~blueprint.diff.paths`: property paths: leaf changes, ``ignoreChanges`` patterns;
- :mod:`~blueprint.diff.compare`: two plans → create / update / replace / delete / same;
- :mod:`~blueprint.diff.baseline`: the plan at a git ref, captured in a process of its own;
- :mod:`~blueprint.diff.emit`: that process (``python -m blueprint.diff.emit``);
- :mod:`~blueprint.diff.allowances`: ``policies/replacements.yaml``, accepted blocking changes;
- :mod:`~blueprint.diff.render`: the diff as a table, JSON and Markdown.
"""
