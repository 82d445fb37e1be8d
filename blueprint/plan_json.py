"""The captured plan as JSON, in the shape of ``pulumi preview --json``.

Top level: ``steps`` (one per resource, in registration order), ``changeSummary`` and
``outputs``. Each step has ``op`` (always ``create``: an offline preview has no prior state),
``urn``, ``type``, ``provider`` and ``newState`` with ``type``, ``urn``, ``custom``,
``parent``, ``provider``, ``inputs``, ``dependencies``, ``propertyDependencies``,
``protect``, ``retainOnDelete`` and ``additionalSecretOutputs``-style ``secretInputs``.

Secret values are replaced by ``"[secret]"``, as the CLI prints them: a plan file is
safe to attach to a pull request. Whole numbers are written as integers (``6379``, not the
``6379.0`` the engine protocol carries), as the CLI writes them.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from blueprint.capture import Plan, PlannedResource
from blueprint.values import integral

SECRET_MASK = "[secret]"
FORMAT_VERSION = 1


def _masked_inputs(resource: PlannedResource) -> dict[str, Any]:
    return {
        key: (SECRET_MASK if key in resource.secret_inputs else integral(value))
        for key, value in resource.inputs.items()
    }


def _mask_outputs(plan: Plan, secrets: set[str]) -> dict[str, Any]:
    def mask(value: Any) -> Any:
        if isinstance(value, str) and value in secrets:
            return SECRET_MASK
        if isinstance(value, dict):
            return {k: mask(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mask(v) for v in value]
        return value

    return {k: integral(mask(v)) for k, v in plan.outputs.items()}


def _secret_values(plan: Plan) -> set[str]:
    values: set[str] = set()
    for resource in plan.resources:
        for key in resource.secret_inputs:
            if isinstance(resource.inputs.get(key), str):
                values.add(resource.inputs[key])
    return values


def step(resource: PlannedResource) -> dict[str, Any]:
    return {
        "op": "create",
        "urn": resource.urn,
        "type": resource.type,
        "provider": resource.provider,
        "newState": {
            "urn": resource.urn,
            "type": resource.type,
            "custom": resource.custom,
            "parent": resource.parent,
            "provider": resource.provider,
            "inputs": _masked_inputs(resource),
            "dependencies": sorted(
                set(resource.depends_on).union(*resource.property_dependencies.values())
            ),
            "propertyDependencies": resource.property_dependencies,
            "protect": resource.protect,
            "retainOnDelete": resource.retain_on_delete,
            "secretInputs": resource.secret_inputs,
        },
    }


def to_json(plan: Plan) -> dict[str, Any]:
    return {
        "formatVersion": FORMAT_VERSION,
        "project": plan.project,
        "stack": plan.stack,
        "steps": [step(r) for r in plan.resources],
        "changeSummary": {"create": len(plan.resources)},
        "resourceCounts": dict(sorted(Counter(r.type for r in plan.resources).items())),
        "outputs": _mask_outputs(plan, _secret_values(plan)),
    }
