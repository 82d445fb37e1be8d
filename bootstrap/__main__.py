"""Bootstrap of one environment's account: parse the config once, build, export."""

import pulumi

from bootstrap.config import load_bootstrap_config
from bootstrap.environment import EnvironmentBootstrap

config = load_bootstrap_config()
environment = EnvironmentBootstrap("feature-platform-bootstrap", config)
for output_name, value in environment.outputs().items():
    pulumi.export(output_name, value)
