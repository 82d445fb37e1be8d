"""Fidelity of the offline engine: what the real bridge and provider refuse, as data.

:mod:`blueprint.fidelity.facts` loads ``provider_facts.json``; :mod:`.validate` applies it
(auto-names as pulumi-aws makes them, inputs as the Terraform provider checks them).
"""

from blueprint.fidelity.validate import (
    FidelityError,
    auto_name,
    check_inputs,
    enforce,
    physical_id,
)

__all__ = ["FidelityError", "auto_name", "check_inputs", "enforce", "physical_id"]
