"""Supply side: trafficking routes, organised crime groups, enforcement and the drug market.

``COMPONENTS`` lists this side's components in the order they step each month (supply, then enforcement,
then the market).
"""

COMPONENTS: list = []
