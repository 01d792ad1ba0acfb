"""Credential-free imitations of the vendor APIs funnelhouse reads, with reference data.

`generate()` builds the reference case; `start_amocrm()` and `start_yandex_direct()` serve it
over local HTTP in the vendors' wire formats. `python -m sandbox serve` runs both.
"""

from sandbox.amocrm import move_lead_during_listing, start_amocrm
from sandbox.faults import Fault, FaultKind, seeded_faults
from sandbox.generator import Dataset, LeadTruth, generate
from sandbox.server import RunningServer
from sandbox.yandex_direct import start_yandex_direct

__all__ = [
    "Dataset",
    "Fault",
    "FaultKind",
    "LeadTruth",
    "RunningServer",
    "generate",
    "move_lead_during_listing",
    "seeded_faults",
    "start_amocrm",
    "start_yandex_direct",
]
