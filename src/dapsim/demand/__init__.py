"""Demand and harms: the general population, high-risk users, services, overdoses, infections, prison, NPS.

``COMPONENTS`` lists this side's components in the order they step each month (demand, then harms).
"""

COMPONENTS: list = []
