"""The preview JSON: pulumi-preview shape, dependencies, and no secret in clear text."""

from __future__ import annotations

import json

from blueprint.capture import Plan
from blueprint.plan_json import SECRET_MASK, to_json


def test_one_create_step_per_resource_with_new_state(dev: Plan) -> None:
    document = to_json(dev)
    assert len(document["steps"]) == len(dev.resources) == document["changeSummary"]["create"]
    for step, resource in zip(document["steps"], dev.resources, strict=True):
        assert (step["op"], step["urn"], step["type"]) == ("create", resource.urn, resource.type)
        state = step["newState"]
        assert state["parent"] == resource.parent
        assert set(state) >= {"type", "inputs", "parent", "dependencies", "propertyDependencies"}
        for urns in state["propertyDependencies"].values():
            assert set(urns) <= set(state["dependencies"])


def test_secrets_are_masked_everywhere(dev: Plan) -> None:
    document = to_json(dev)
    text = json.dumps(document)
    version = dev.of_type("aws:secretsmanager/secretVersion:SecretVersion")[0]
    assert version.inputs["secretStringWo"] not in text
    (step,) = [s for s in document["steps"] if s["urn"] == version.urn]
    assert step["newState"]["inputs"]["secretStringWo"] == SECRET_MASK
    assert step["newState"]["secretInputs"] == ["secretStringWo"]


def test_protection_is_visible_in_the_plan(prod: Plan) -> None:
    steps = to_json(prod)["steps"]
    buckets = [s for s in steps if s["type"] == "aws:s3/bucket:Bucket"]
    assert all(s["newState"]["protect"] and s["newState"]["retainOnDelete"] for s in buckets)
