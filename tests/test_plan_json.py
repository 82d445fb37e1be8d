"""The preview JSON (and the manifests export): pulumi-preview shape, dependencies, integers
where whole, and no secret in clear text."""

from __future__ import annotations

import json
from typing import Any

import yaml

from blueprint.capture import Plan
from blueprint.checkov import manifests
from blueprint.plan_json import SECRET_MASK, to_json

REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"


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


def _floats(value: Any) -> list[float]:
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [f for item in value.values() for f in _floats(item)]
    if isinstance(value, list):
        return [f for item in value for f in _floats(item)]
    return []


def test_whole_numbers_are_written_as_integers(dev: Plan) -> None:
    """The engine protocol carries doubles; ``pulumi preview --json`` writes ``6379``."""
    document = to_json(dev)
    (group,) = [s for s in document["steps"] if s["type"] == REPLICATION_GROUP]
    port = group["newState"]["inputs"]["port"]
    assert port == 6379 and type(port) is int
    assert '"port": 6379,' in json.dumps(group)
    # Fractions stay floats (burn-rate thresholds such as 0.015); whole numbers never do.
    assert [f for f in _floats(document) if f.is_integer()] == []


def test_exported_manifests_write_whole_numbers_as_integers(dev: Plan) -> None:
    rendered = manifests.render(dev)
    assert rendered.documents and _floats(rendered.documents) == []
    text = "".join(yaml.safe_dump(d) for d in rendered.documents.values())
    assert "port: 53\n" in text and "53.0" not in text
