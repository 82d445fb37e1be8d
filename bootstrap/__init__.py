"""The bootstrap project: what an environment's account needs before the platform's first
``pulumi up`` (state bucket and key, CI roles, key-admin and admin roles, the workload
boundary, the Auto Scaling service-linked role). A Pulumi project of its own
(``bootstrap/Pulumi.yaml``), applied once per account by the account owner."""
