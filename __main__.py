"""Feature platform: parse the stack's config and the feature teams once, build, export."""

from pathlib import Path

import pulumi

from components.config import load_stack_config
from components.config.loader import load_stack_tenants
from components.config.tenants import TENANTS_DIR
from components.platform import FeaturePlatform

config = load_stack_config()
tenants = load_stack_tenants(config, Path(__file__).resolve().parent / TENANTS_DIR)
platform = FeaturePlatform("feature-platform", config, tenants=tenants)
for output_name, value in platform.outputs().items():
    pulumi.export(output_name, value)
