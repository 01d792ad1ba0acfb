"""Credential-free imitations of the vendor APIs funnelhouse reads, with reference data.

`generate()` builds the reference case; `start_amocrm()` and `start_yandex_direct()` serve it
over local HTTP in the vendors' wire formats. `python -m sandbox serve` runs both.
"""

from sandbox.amocrm import start_amocrm
from sandbox.generator import Dataset, LeadTruth, generate
from sandbox.server import RunningServer
from sandbox.yandex_direct import start_yandex_direct

__all__ = [
    "Dataset",
    "LeadTruth",
    "RunningServer",
    "generate",
    "start_amocrm",
    "start_yandex_direct",
]
