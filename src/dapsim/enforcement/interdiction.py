"""Interdiction at the EU border: the probability that a consignment on a link is detected.

Detection combines three independent chances:

* screening by the lever that acts at that kind of entry point (containers scanned at the major ports,
  risk-based checks at small ports, airport and postal screening), concentrated on high-risk consignments
  by risk profiling (``targeting_lift``) and imperfect (``sensitivity``);
* a baseline detection by risk profiling and routine controls on that modality;
* intelligence about the group held by the agencies of that Member State, ``1 - exp(-k * exposure)``.

A corrupted insider at the entry point (extraction teams, falsified records) cuts the chance of detection.

At the container ports scanners are a capacity, not a probability (:class:`ContainerScanners`): a port scans
``port_scanning`` x its arriving containers a month; containers flagged by intelligence are scanned first, then
those the risk engine flags. When flags exceed capacity some flagged containers go unscanned, so detection
saturates as intelligence rises or capacity falls.
"""

from __future__ import annotations

import numpy as np

from ..supply.routes import ENTRY_KINDS

MAX_CONSIGNMENTS = 6
"""Consignments per link and month that are tracked separately (larger flows are split into at most this many)."""


_SCREENING = {
    "container_port": ("port_scanning", "enforcement.container_targeting_lift", "enforcement.scanner_sensitivity"),
    "secondary_port": ("small_ports_monitoring", "enforcement.small_ports_targeting_lift",
                       "enforcement.small_ports_sensitivity"),
    "hub_airport": ("airport_screening", "enforcement.airport_targeting_lift", "enforcement.airport_sensitivity"),
    "postal_hub": ("postal_screening", "enforcement.postal_targeting_lift", "enforcement.postal_sensitivity"),
}
"""Per kind of entry point: the screening lever, its targeting lift and its sensitivity (registry keys)."""


def screening_probability(kind: np.ndarray, ms: np.ndarray, levers: dict[str, np.ndarray], p) -> np.ndarray:
    """Per link: the chance that lever-driven screening finds a consignment."""
    out = np.zeros(len(kind))
    for k, (lever, lift, sens) in _SCREENING.items():
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
    """Combine screening, baseline and intelligence; a corrupted insider cuts the result.

    This is the rule without scanner capacity; :class:`ContainerScanners` applies it with the intelligence and
    scanning chances at container ports limited by the scans a port can do.
    """
    intel = 1.0 - np.exp(-p["enforcement.intel_detection"] * exposure)
    return combine(screen, base, intel, insider, p)


def combine(screen: np.ndarray, base: np.ndarray, intel: np.ndarray, insider: np.ndarray, p) -> np.ndarray:
    """Independent chances of screening, baseline and intelligence-led detection; an insider cuts the result."""
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


SCANNER_PARAMETERS = ("enforcement.risk_flag_share", "enforcement.intel_flags_per_lead")
"""Registry keys read by :class:`ContainerScanners` (the enforcement component declares them)."""

CONTAINER_PORT = ENTRY_KINDS.index("container_port")


def consignments(arrived: np.ndarray, consignment_kg: np.ndarray) -> np.ndarray:
    """Consignments per link this month (at most ``MAX_CONSIGNMENTS``; the same split :func:`seize` uses)."""
    return np.clip(np.ceil(arrived / consignment_kg), 0, MAX_CONSIGNMENTS)


def scan_allocation(capacity: np.ndarray, containers: np.ndarray, intel_flags: np.ndarray, risk_flag_share: float,
                    targeting_lift: float) -> tuple[np.ndarray, np.ndarray]:
    """Share the scans a port can do in a month between intelligence-flagged, risk-flagged and other containers.

    Scanners are a fixed capacity (``port_scanning`` x containers arriving). Containers flagged by intelligence
    are scanned first; what is left goes to the containers the customs risk engine flags (a share
    ``risk_flag_share`` of the rest, holding a share ``min(targeting_lift * risk_flag_share, 1)`` of the drug
    consignments not flagged by intelligence), and only then to unflagged containers at random. When flags
    exceed capacity some flagged containers are not scanned: more intelligence crowds out risk-based scans, and
    intelligence-led detection saturates. Without intelligence flags and below the risk-flag share this is
    exactly ``targeting_lift x scanned share`` (the uncapacitated rule it replaces).

    Args:
        capacity: scans per month per port.
        containers: containers arriving per month per port.
        intel_flags: containers flagged by intelligence per month per port.
        risk_flag_share: share of containers the risk engine flags.
        targeting_lift: concentration of drug consignments among risk-flagged containers.

    Returns:
        (share of intelligence-flagged containers scanned, chance that a drug consignment not flagged by
        intelligence is scanned), per port.
    """
    scanned_intel = np.minimum(capacity, intel_flags)
    q_intel = np.divide(scanned_intel, intel_flags, out=np.ones_like(capacity), where=intel_flags > 0)
    left = capacity - scanned_intel
    rest = np.maximum(containers - scanned_intel, 1.0)
    risk_flags = risk_flag_share * rest
    recall = min(targeting_lift * risk_flag_share, 1.0)
    within = np.divide(left, risk_flags, out=np.zeros_like(capacity), where=risk_flags > 0)
    beyond = np.divide(left - risk_flags, rest - risk_flags, out=np.zeros_like(capacity), where=rest > risk_flags)
    p_scan = np.where(left <= risk_flags, recall * within, recall + (1.0 - recall) * np.clip(beyond, 0.0, 1.0))
    return q_intel, np.clip(p_scan, 0.0, 1.0)


class ContainerScanners:
    """Scanner capacity at the container ports, shared by intelligence-led, risk-based and random scans.

    Each container port scans ``port_scanning`` x containers arriving a month, no more. Every intelligence lead
    on a consignment (chance ``1 - exp(-k * exposure)`` per consignment, as in :func:`detection_probability`)
    flags ``intel_flags_per_lead`` containers (a lead names a vessel, shipper, consignee or forwarder, not the
    one box); flagged containers are scanned first, then risk-flagged ones (:func:`scan_allocation`). At the
    other kinds of entry point detection is as in :func:`detection_probability`.

    After each call ``last`` holds the month's containers flagged by intelligence, the capacity, the
    share of flagged containers scanned per port and the expected intelligence-led detections (for tests and
    diagnostics).
    """

    def __init__(self, net, kind_of_link: np.ndarray, entry_of_link: np.ndarray, ms_of_link: np.ndarray, p):
        self.ports = np.flatnonzero(net.entry_kind == CONTAINER_PORT)
        self.port_ms = net.entry_ms[self.ports]
        self.containers = (net.entry_teu_m[self.ports] * 1e6 / p["enforcement.teu_per_container"]
                           * p["enforcement.containers_arriving_share"] / 12.0)
        port_pos = np.full(len(net.entry_kind), -1)
        port_pos[self.ports] = np.arange(len(self.ports))
        self.on_port = np.flatnonzero(kind_of_link == CONTAINER_PORT)
        self.link_port = port_pos[entry_of_link[self.on_port]]
        # the other screened kinds keep the uncapacitated rule; indices and parameters are fixed for the run
        self.other = []
        for kind, (lever, lift, sens) in _SCREENING.items():
            if kind != "container_port":
                sel = np.flatnonzero(kind_of_link == ENTRY_KINDS.index(kind))
                self.other.append((sel, ms_of_link[sel], lever, p[lift], p[sens]))
        self.n_links = len(kind_of_link)
        self.k_intel = p["enforcement.intel_detection"]
        self.flags_per_lead = p["enforcement.intel_flags_per_lead"]
        self.risk_flag_share = p["enforcement.risk_flag_share"]
        self.lift = p["enforcement.container_targeting_lift"]
        self.sensitivity = p["enforcement.scanner_sensitivity"]
        self.last: dict[str, np.ndarray] = {}

    def detection_probability(self, levers: dict[str, np.ndarray], base: np.ndarray, exposure: np.ndarray,
                              insider: np.ndarray, arrived: np.ndarray, consignment_kg: np.ndarray, p) -> np.ndarray:
        """Per link: the chance that a consignment is detected this month, with scanner capacity binding."""
        screen = np.zeros(self.n_links)
        for sel, ms, lever, lift, sens in self.other:
            screen[sel] = np.minimum(levers[lever][ms] * lift, 1.0) * sens
        intel = 1.0 - np.exp(-self.k_intel * exposure)
        on = self.on_port
        leads = np.bincount(self.link_port, weights=intel[on] * consignments(arrived[on], consignment_kg[on]),
                            minlength=len(self.ports))
        flags = leads * self.flags_per_lead
        capacity = np.asarray(levers["port_scanning"])[self.port_ms] * self.containers
        q_intel, p_scan = scan_allocation(capacity, self.containers, flags, self.risk_flag_share, self.lift)
        screen[on] = p_scan[self.link_port] * self.sensitivity
        intel[on] *= q_intel[self.link_port]
        self.last = {"intel_flags": flags, "capacity": capacity, "share_flagged_scanned": q_intel,
                     "intel_leads": leads, "intel_detections": leads * q_intel}
        return combine(screen, base, intel, insider, p)
