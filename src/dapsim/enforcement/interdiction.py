"""Interdiction at the EU border: the probability that a consignment on a link is detected.

Detection combines three independent chances:

* screening by the lever that acts at that kind of entry point (containers scanned at the major ports,
  risk-based checks at small ports, airport and postal screening), concentrated on high-risk consignments
  by risk profiling (``targeting_lift``) and imperfect (``sensitivity``);
* a baseline detection by risk profiling and routine controls on that modality;
* intelligence about the group held by the agencies of that Member State, ``1 - exp(-k * exposure)``.

A corrupted insider at the entry point (extraction teams, falsified records) cuts the chance of detection.
"""

from __future__ import annotations

import numpy as np

from ..supply.routes import ENTRY_KINDS

MAX_CONSIGNMENTS = 6
"""Consignments per link and month that are tracked separately (larger flows are split into at most this many)."""


def screening_probability(kind: np.ndarray, ms: np.ndarray, levers: dict[str, np.ndarray], p) -> np.ndarray:
    """Per link: the chance that lever-driven screening finds a consignment."""
    out = np.zeros(len(kind))
    spec = {
        "container_port": ("port_scanning", "enforcement.container_targeting_lift", "enforcement.scanner_sensitivity"),
        "secondary_port": ("small_ports_monitoring", "enforcement.small_ports_targeting_lift",
                           "enforcement.small_ports_sensitivity"),
        "hub_airport": ("airport_screening", "enforcement.airport_targeting_lift", "enforcement.airport_sensitivity"),
        "postal_hub": ("postal_screening", "enforcement.postal_targeting_lift", "enforcement.postal_sensitivity"),
    }
    for k, (lever, lift, sens) in spec.items():
        sel = kind == ENTRY_KINDS.index(k)
        out[sel] = np.minimum(levers[lever][ms[sel]] * p[lift], 1.0) * p[sens]
    return out


def baseline_probability(kind: np.ndarray, p) -> np.ndarray:
    """Per link: detection by routine controls and risk profiling, without the screening levers."""
    table = np.array([p["enforcement.base_detection_container_port"], p["enforcement.base_detection_secondary_port"],
                      p["enforcement.base_detection_hub_airport"], p["enforcement.base_detection_postal_hub"],
                      p["enforcement.base_detection_land_border"]])
    return table[kind]


def detection_probability(screen: np.ndarray, base: np.ndarray, exposure: np.ndarray, insider: np.ndarray, p) -> np.ndarray:
    """Combine screening, baseline and intelligence; a corrupted insider cuts the result."""
    intel = 1.0 - np.exp(-p["enforcement.intel_detection"] * exposure)
    pd = 1.0 - (1.0 - screen) * (1.0 - base) * (1.0 - intel)
    pd = np.where(insider, pd * (1.0 - p["enforcement.insider_protection"]), pd)
    return np.clip(pd, 0.0, 0.95)


def seize(arrived: np.ndarray, consignment_kg: np.ndarray, pd: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split each link's arrivals into consignments and seize those whose uniform falls below ``pd``.

    Args:
        arrived: kg arriving per link.
        consignment_kg: typical consignment size per link.
        pd: detection probability per consignment.
        u: uniforms, shape (links, MAX_CONSIGNMENTS), drawn every month (common random numbers).

    Returns:
        (kg seized per link, consignments seized per link).
    """
    n = np.clip(np.ceil(arrived / consignment_kg), 0, MAX_CONSIGNMENTS)
    slots = np.arange(MAX_CONSIGNMENTS)[None, :] < n[:, None]
    hits = ((u < pd[:, None]) & slots).sum(axis=1)
    kg = np.divide(arrived * hits, n, out=np.zeros_like(arrived), where=n > 0)
    return kg, hits.astype(float)
