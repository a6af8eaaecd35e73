"""Supply side: trafficking routes, organised crime groups, enforcement and the drug market.

``COMPONENTS`` lists this side's components in the order they step each month (supply, then enforcement,
then the market). It is resolved on first access (PEP 562) because :mod:`dapsim.enforcement` imports the
route and group modules of this package.
"""

from __future__ import annotations

__all__ = ["COMPONENTS", "SupplyComponent", "EnforcementComponent", "MarketComponent"]


def __getattr__(name: str):
    if name in __all__:
        from ..enforcement import EnforcementComponent
        from .market import MarketComponent
        from .trafficking import SupplyComponent

        found = {
            "COMPONENTS": [SupplyComponent, EnforcementComponent, MarketComponent],
            "SupplyComponent": SupplyComponent,
            "EnforcementComponent": EnforcementComponent,
            "MarketComponent": MarketComponent,
        }
        globals().update(found)
        return found[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
