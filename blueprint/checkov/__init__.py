"""checkov on the Pulumi plan: checkov cannot read Pulumi, so the plan is translated.

- :mod:`~blueprint.checkov.tfplan`: the plan as Terraform plan JSON (``terraform_plan``);
- :mod:`~blueprint.checkov.manifests`: its Kubernetes resources as manifests (``kubernetes``);
- :mod:`~blueprint.checkov.scan`: checkov's own environment, its runner, its report;
- :mod:`~blueprint.checkov.runner`: the script checkov's interpreter runs (not importable here);
- :mod:`~blueprint.checkov.suppressions`: the accepted findings, with reasons and expiry.

:mod:`blueprint.check.judge` puts the policy pack and checkov together into one verdict.
"""
