"""Typed per-environment configuration: models, environment profiles and the loader."""

from components.config.loader import (
    ConfigError,
    load_stack_config,
    parse_engine_config,
    parse_stack_config,
)
from components.config.models import (
    DataClassification,
    Environment,
    NatGateways,
    StackConfig,
)
from components.config.subnets import Subnet, SubnetPlan

__all__ = [
    "ConfigError",
    "DataClassification",
    "Environment",
    "NatGateways",
    "StackConfig",
    "Subnet",
    "SubnetPlan",
    "load_stack_config",
    "parse_engine_config",
    "parse_stack_config",
]
