"""Resource options shared by the components.

Protection of stateful resources is decided once, from config, and applied through
:func:`stateful` — never set resource by resource.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi


def child(
    parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource] | None = None
) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(parent=parent, depends_on=depends_on)


def stateful(
    parent: pulumi.Resource,
    protect: bool,
    depends_on: Sequence[pulumi.Resource] | None = None,
) -> pulumi.ResourceOptions:
    """Options for a resource that holds data or key material.

    ``protect`` makes the engine refuse to delete it; ``retain_on_delete`` keeps it in AWS
    even if it is removed from the program after being unprotected.
    """
    return pulumi.ResourceOptions(
        parent=parent, protect=protect, retain_on_delete=protect, depends_on=depends_on
    )
