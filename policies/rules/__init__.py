"""Every policy of the pack, collected from the area modules.

Importing an area module registers its policies (``_base.resource_policy`` and
``_base.stack_policy``); ``POLICIES`` is the registry in definition order.
"""

from . import (  # noqa: F401  (imported for their registrations)
    alerting,
    cache_users,
    data_protection,
    encryption,
    governance,
    identity,
    kubernetes,
    logs,
    network,
    stack,
    tenancy,
    transit,
)
from ._base import CATALOGUE, POLICIES, PolicyInfo

__all__ = ["CATALOGUE", "POLICIES", "PolicyInfo"]
