"""Feature platform: parse the stack's config once, build the platform, export its outputs."""

import pulumi

from components.config import load_stack_config
from components.platform import FeaturePlatform

config = load_stack_config()
platform = FeaturePlatform("feature-platform", config)
for output_name, value in platform.outputs().items():
    pulumi.export(output_name, value)
