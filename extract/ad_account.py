"""What every ad platform's statistics rows carry beside them: whose account, in which
currency and in which time zone's days (API_NOTES: keep both next to each row)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AdAccount:
    """An ad account as its platform describes it."""

    account_id: str  # as landed in the `account` column
    currency: str  # ISO 4217: the currency of every cost of the account
    time_zone: str  # IANA name: report days are this zone's days
