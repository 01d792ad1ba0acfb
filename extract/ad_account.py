"""What every ad platform's statistics rows carry beside them: whose account, in which
currency and in which time zone's days (API_NOTES: keep both next to each row), and the
checks of those two values that every source shares (the CBR feed's currency codes too)."""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from typing import TypeGuard

_CURRENCY_CODE = re.compile(r"[A-Z]{3}")


def is_currency_code(value: object) -> TypeGuard[str]:
    """Whether `value` is shaped like an ISO 4217 code: three capital letters."""
    return isinstance(value, str) and _CURRENCY_CODE.fullmatch(value) is not None


def is_time_zone(value: object) -> TypeGuard[str]:
    """Whether `value` names a zone of the IANA time zone database."""
    if not isinstance(value, str):
        return False
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long
        return False
    return True


@dataclass(frozen=True)
class AdAccount:
    """An ad account as its platform describes it; a currency or time zone that is not one
    raises ValueError naming the account and the field (callers add the source)."""

    account_id: str  # as landed in the `account` column
    currency: str  # ISO 4217: the currency of every cost of the account
    time_zone: str  # IANA name: report days are this zone's days

    def __post_init__(self) -> None:
        if not is_currency_code(self.currency):
            raise ValueError(
                f"ad account {self.account_id}: currency {self.currency!r} is not an ISO 4217 "
                f"code (three capital letters)"
            )
        if not is_time_zone(self.time_zone):
            raise ValueError(
                f"ad account {self.account_id}: time_zone {self.time_zone!r} is not an IANA "
                f"time zone"
            )
