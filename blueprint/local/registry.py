"""The translator registry: one function per Pulumi resource type, making its boto3 calls.

A translator receives the resource's inputs exactly as the engine would (camelCase), makes
the calls ``pulumi up`` would make through the provider, and returns the resource ID and
the outputs AWS reported. Inputs that moto cannot apply are listed in ``Created.unapplied``
so the summary can say so instead of pretending.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from blueprint.fidelity import auto_name
from blueprint.local.target import AwsTarget
from blueprint.mocks import physical_name


@dataclass
class Ctx:
    target: AwsTarget
    type: str
    name: str
    inputs: dict[str, Any]
    region: str
    account: str
    default_tags: dict[str, str]
    stack: str = ""

    def client(self, service: str) -> Any:
        return self.target.client(service, self.region)

    @property
    def tags(self) -> dict[str, str]:
        """What the provider sends: its default tags, overridden by the resource's own."""
        return {**self.default_tags, **(self.inputs.get("tags") or {})}

    def tag_list(self, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
        return [{key: k, value: v} for k, v in sorted(self.tags.items())]

    def physical_name(self, prop: str = "name") -> str:
        """The name ``pulumi up`` would create: explicit, or auto-named by the bridge's rule
        for this type (``blueprint/fidelity/provider_facts.json``), failing as it would."""
        # Salted with stack and type: S3 bucket names are global, in moto as in AWS.
        salt = f"{self.stack}/{self.type}"
        named = auto_name(self.type, self.name, self.inputs, salt=salt)
        if named is not None:
            return named
        return physical_name(self.name, self.inputs, prop, salt=salt)


@dataclass
class Created:
    id: str
    outputs: dict[str, Any] = field(default_factory=dict)
    unapplied: list[str] = field(default_factory=list)
    """Inputs moto does not model; shown in the summary."""


Translator = Callable[[Ctx], Created]
TRANSLATORS: dict[str, Translator] = {}


def translates(*types: str) -> Callable[[Translator], Translator]:
    def register(fn: Translator) -> Translator:
        for type_ in types:
            TRANSLATORS[type_] = fn
        return fn

    return register


ACRONYMS = {"Id": "ID"}


def pascal(value: Any, acronyms: dict[str, str] | None = None) -> Any:
    """camelCase keys (Pulumi inputs) to PascalCase keys (AWS API shapes), recursively."""
    acronyms = ACRONYMS if acronyms is None else acronyms
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            new = key[:1].upper() + key[1:]
            out[acronyms.get(new, new)] = pascal(item, acronyms)
        return out
    if isinstance(value, list):
        return [pascal(item, acronyms) for item in value]
    return value
