"""Credential-free imitations of the vendor APIs funnelhouse reads, with reference data.

`generate()` builds the reference case; `start_amocrm()`, `start_bitrix24()`,
`start_hubspot()`, `start_yandex_direct()`, `start_google_ads()`, `start_meta_ads()` and
`start_cbr_rates()` serve it over local HTTP in the vendors' wire formats.
`python -m sandbox serve` runs them all.
"""

from sandbox.amocrm import move_lead_during_listing, start_amocrm
from sandbox.bitrix24 import start_bitrix24
from sandbox.bitrix24_portal import Portal, PortalLeadTruth, generate_portal
from sandbox.cbr_rates import start_cbr_rates
from sandbox.faults import Fault, FaultKind, seeded_faults
from sandbox.generator import Dataset, LeadTruth, generate
from sandbox.google_ads import start_google_ads
from sandbox.hubspot import Account, start_hubspot
from sandbox.hubspot_account import AccountLeadTruth, GeneratedAccount, generate_account
from sandbox.meta_ads import start_meta_ads
from sandbox.server import RunningServer
from sandbox.yandex_direct import start_yandex_direct

__all__ = [
    "Account",
    "AccountLeadTruth",
    "Dataset",
    "Fault",
    "FaultKind",
    "GeneratedAccount",
    "LeadTruth",
    "Portal",
    "PortalLeadTruth",
    "RunningServer",
    "generate",
    "generate_account",
    "generate_portal",
    "move_lead_during_listing",
    "seeded_faults",
    "start_amocrm",
    "start_bitrix24",
    "start_cbr_rates",
    "start_google_ads",
    "start_hubspot",
    "start_meta_ads",
    "start_yandex_direct",
]
