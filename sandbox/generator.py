"""Deterministic reference data for the sandbox: a playground-equipment maker.

`generate()` builds six months of amoCRM leads, contacts and status-change events, of daily
campaign statistics on three ad platforms (Yandex Direct in RUB, Google Ads in USD, Meta
Ads in EUR) and of the Central Bank of Russia's daily exchange rates, together with the
ground truth of what was planted in them (`Dataset.truth`), so tests can assert facts of
the reference case without re-implementing the pipeline.

Everything derives from the seed through `random.Random` streams seeded with strings
(hashed with SHA-512, so independent of PYTHONHASHSEED); nothing reads the clock.
"""

# ruff: noqa: RUF001 - the data is Russian text: its Cyrillic letters are not look-alikes

import bisect
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Literal

Json = dict[str, Any]
Segment = Literal["dealer", "developer", "private", "unknown"]
PhoneKind = Literal["valid", "duplicate", "invalid", "none"]
PhoneInvalidReason = Literal["no_phone", "unparseable", "invalid_number"]
Outcome = Literal["open", "won", "lost"]

ACCOUNT_ID = 31_000_001
CLIENT_LOGIN = "playground-ads"
MOSCOW = timezone(timedelta(hours=3), "MSK")  # Moscow has kept UTC+3 without DST since 2014
FIRST_DAY = date(2026, 1, 1)
LAST_DAY = date(2026, 6, 30)
# The moment the data is a snapshot of: no status change, edit or close happens after it.
SNAPSHOT_AT = int(datetime(2026, 7, 1, tzinfo=UTC).timestamp())
MIN_LEADS = 50

SEGMENT_FIELD_ID = 500_100
SEGMENT_FIELD_NAME = "Тип клиента"
SEGMENT_LABELS: dict[Segment, str] = {
    "dealer": "Дилер",
    "developer": "Застройщик",
    "private": "Частный покупатель",
}
SEGMENT_ENUM_IDS: dict[Segment, int] = {"dealer": 700_101, "developer": 700_102, "private": 700_103}
UTM_FIELD_IDS = {"UTM_SOURCE": 500_201, "UTM_MEDIUM": 500_202, "UTM_CAMPAIGN": 500_203}
PHONE_FIELD_ID = 500_301
PHONE_ENUM_IDS = {"WORK": 600_301, "MOB": 600_302}

RETAIL_PIPELINE_ID = 7_100_001
WHOLESALE_PIPELINE_ID = 7_100_002
WON_STATUS_ID = 142
LOST_STATUS_ID = 143
STAGE_NAMES = ("Первичный контакт", "Квалификация", "КП отправлено", "Переговоры")
STAGE_STATUS_IDS = {
    RETAIL_PIPELINE_ID: (61_000_011, 61_000_012, 61_000_013, 61_000_014),
    WHOLESALE_PIPELINE_ID: (61_000_021, 61_000_022, 61_000_023, 61_000_024),
}

UNREACHABLE, NO_BUDGET, NOT_TARGET, COMPETITOR, NOT_RELEVANT = range(9_100_001, 9_100_006)
LOSS_REASON_NAMES = {
    UNREACHABLE: "Не дозвонились",
    NO_BUDGET: "Нет бюджета",
    NOT_TARGET: "Не целевой",
    COMPETITOR: "Купили у конкурента",
    NOT_RELEVANT: "Неактуально",
}

FIRST_LEAD_ID = 21_000_001
FIRST_CONTACT_ID = 41_000_001
RETAIL_MANAGERS = (8_200_001, 8_200_002, 8_200_003)
WHOLESALE_MANAGERS = (8_200_011, 8_200_012)
WEB_FORM_USER = 0  # created_by of leads that arrive through the site's form

BOUNDARY_LEADS = 5  # private leads created 2026-03-31 21:00-23:59 UTC: April in Moscow
BOUNDARY_START = int(datetime(2026, 3, 31, 21, tzinfo=UTC).timestamp())
DUPLICATE_WINDOW = timedelta(days=29)  # inside the 30-day rule with a margin
DELETED_SHARE = 0.01
NON_PAID_SHARE = 0.03  # of private leads
CAMPAIGN_NAME_AS_UTM_SHARE = 0.15  # paid leads whose utm_campaign is the name, not the id
NO_REASON_SHARE = 0.03  # lost leads closed without a loss reason
LATE_EDIT_SHARE = 0.10  # records edited after their last status change


@dataclass(frozen=True)
class AdAccount:
    """One ad account: reports come in its currency and its time zone's days."""

    platform: str
    account_id: str  # Yandex: the Client-Login; Google: the customer id; Meta: without act_
    name: str
    currency: str
    time_zone: str


YANDEX_DIRECT_ACCOUNT = AdAccount(
    "yandex_direct", CLIENT_LOGIN, "Игровые площадки", "RUB", "Europe/Moscow"
)
GOOGLE_ADS_ACCOUNT = AdAccount(
    "google_ads", "4561237890", "Playground Equipment USD", "USD", "Europe/Moscow"
)
META_ADS_ACCOUNT = AdAccount(
    "meta_ads", "1029384756123", "Playground Equipment EU", "EUR", "Europe/Berlin"
)


@dataclass(frozen=True)
class Campaign:
    id: int
    name: str
    clicks_per_day: int  # on a weekday in the peak month
    cpc_minor_units: tuple[int, int]  # cost per click in kopecks or cents of the account
    ctr: float
    conversion: float  # relative chance that a click becomes a lead
    first_day: date = FIRST_DAY
    platform: str = "yandex_direct"


CAMPAIGNS = (
    Campaign(70_000_001, "Детские площадки — Поиск — Москва", 90, (4500, 9000), 0.06, 1.0),
    Campaign(70_000_002, "Детские площадки — Поиск — Регионы", 110, (2500, 5500), 0.05, 0.8),
    Campaign(70_000_003, "Игровые комплексы — РСЯ", 160, (1000, 2500), 0.008, 0.35),
    Campaign(70_000_004, "Уличные тренажеры — Поиск", 40, (3000, 6000), 0.045, 0.5),
    Campaign(70_000_005, "Ретаргетинг — РСЯ", 50, (1500, 3500), 0.012, 0.9, date(2026, 3, 1)),
    Campaign(70_000_006, "Бренд — Поиск", 25, (800, 2000), 0.15, 2.5),
)
BRAND_CAMPAIGN_NAME = "Бренд — Поиск"  # a name both Yandex Direct and Google Ads use
GOOGLE_ADS_CAMPAIGNS = (
    Campaign(21_450_000_101, "Детские площадки — Google Поиск", 45, (60, 140), 0.05, 0.9,
             platform="google_ads"),
    Campaign(21_450_000_102, BRAND_CAMPAIGN_NAME, 20, (20, 60), 0.12, 2.0, platform="google_ads"),
    Campaign(21_450_000_103, "Performance Max — Площадки", 60, (30, 90), 0.01, 0.4,
             date(2026, 2, 1), platform="google_ads"),
)  # fmt: skip
META_ADS_CAMPAIGNS = (
    Campaign(120_210_000_000_000_201, "Instagram — Детские площадки — Лиды", 70, (40, 110),
             0.015, 0.5, platform="meta_ads"),
    Campaign(120_210_000_000_000_202, "Facebook — Ретаргетинг", 30, (20, 70), 0.02, 0.6,
             date(2026, 3, 15), platform="meta_ads"),
)  # fmt: skip
ALL_CAMPAIGNS = (*CAMPAIGNS, *GOOGLE_ADS_CAMPAIGNS, *META_ADS_CAMPAIGNS)
PLATFORM_UTM_SOURCES = {
    "yandex_direct": ("yandex",),
    "google_ads": ("google",),
    "meta_ads": ("facebook", "instagram"),
}
# Leads that name a campaign shared by two platforms, by name, with no utm_source to tell
# which: METRICS.md makes their channel `ambiguous`.
AMBIGUOUS_NAME_SHARE = 0.3  # of the leads that name the shared brand campaign by name
# A campaign that keeps spending through a month that brings it no lead.
CAMPAIGN_WITHOUT_LEADS = (70_000_004, date(2026, 2, 1))

# Central Bank of Russia daily rates: roubles per `nominal` units, starting values.
RATE_CURRENCIES = (  # CharCode, NumCode, CBR id, nominal, starting value, name
    ("USD", "840", "R01235", 1, Decimal("78.2284"), "Доллар США"),
    ("EUR", "978", "R01239", 1, Decimal("91.6861"), "Евро"),
    ("CNY", "156", "R01375", 1, Decimal("10.9870"), "Китайский юань"),
    ("KZT", "398", "R01335", 100, Decimal("15.4812"), "Казахстанских тенге"),
    ("JPY", "392", "R01820", 100, Decimal("51.3390"), "Японских иен"),
)
RATES_FIRST_DAY = date(2025, 12, 15)  # before the first ad day, so every day has a rate
# Non-working days on which the CBR sets no rate (weekends aside).
RUSSIAN_HOLIDAYS = frozenset(
    [date(2026, 1, d) for d in range(1, 10)]
    + [date(2026, 2, 23), date(2026, 3, 9), date(2026, 5, 1), date(2026, 5, 11)]
    + [date(2026, 6, 12), date(2025, 12, 31)]
)
SEASON = {1: 0.6, 2: 0.7, 3: 0.9, 4: 1.1, 5: 1.3, 6: 1.2}  # playgrounds sell in spring
NON_PAID_UTMS = (
    {"UTM_SOURCE": "google", "UTM_MEDIUM": "organic"},
    {"UTM_SOURCE": "email", "UTM_MEDIUM": "newsletter", "UTM_CAMPAIGN": "spring_catalog"},
    {"UTM_SOURCE": "organic"},
)


@dataclass(frozen=True)
class LeadTruth:
    """What the generator planted in one lead."""

    lead_id: int
    segment: Segment
    phone_kind: PhoneKind
    # As mart_leads.phone_invalid_reason defines it; None for valid and duplicate phones.
    phone_invalid_reason: PhoneInvalidReason | None
    duplicate_of: int | None  # the earlier lead whose phone a duplicate reuses
    campaign_id: int | None  # the campaign the lead came from, on `platform`
    platform: str | None  # yandex_direct, google_ads, meta_ads; None for non-paid leads
    # What METRICS.md makes of it: the platform, `ambiguous` when its tags name a campaign
    # of two platforms and nothing tells which, None for non-paid leads.
    channel: str | None
    utm_source: str | None
    cohort_month: date  # first day of the creation month in Moscow time
    outcome: Outcome
    furthest_stage: int  # 1..4: the furthest ordinary status reached, by pipeline order
    won_amount: int  # the price when won, else 0
    is_deleted: bool


@dataclass
class Dataset:
    """Everything both sandbox servers serve, in wire shape, plus the planted truth.

    Leads are stored as `with=contacts` returns them minus `_links`; the servers add what
    depends on the request (links, `with=` embeds). Ad statistics rows of every platform
    share one shape (Date, CampaignId, CampaignName, Impressions, Clicks, Cost) with `Cost`
    in micros of the account's currency (Yandex: RUB net of VAT; the server adds VAT on
    request); each platform's server puts them in its own wire format. `currency_rates`
    are the CBR's publications: one row per publication day and currency, `Value` roubles
    per `Nominal` units, only on working days.
    """

    seed: int
    account_id: int
    client_login: str
    pipelines: list[Json]
    loss_reasons: list[Json]
    leads: list[Json]
    contacts: list[Json]
    events: list[Json]
    campaigns: list[Json]
    ad_stats: list[Json]  # Yandex Direct
    truth: dict[int, LeadTruth]
    google_ads_stats: list[Json] = field(default_factory=list)
    meta_ads_stats: list[Json] = field(default_factory=list)
    currency_rates: list[Json] = field(default_factory=list)

    def platform_stats(self) -> dict[str, tuple[AdAccount, list[Json]]]:
        """Each platform's account and statistics rows."""
        return {
            "yandex_direct": (YANDEX_DIRECT_ACCOUNT, self.ad_stats),
            "google_ads": (GOOGLE_ADS_ACCOUNT, self.google_ads_stats),
            "meta_ads": (META_ADS_ACCOUNT, self.meta_ads_stats),
        }


@dataclass(frozen=True)
class _Funnel:
    """How the leads of one segment move through the four ordinary statuses."""

    advance: tuple[float, float, float, float]  # chance to move on from each; the last: to win
    loss_reasons: tuple[tuple[int, ...], ...]  # drawn from at each furthest stage
    first_touch_hours: tuple[float, float]
    step_days: tuple[float, float]
    skip_chance: float  # a move that jumps over the next status
    back_chance: float  # a lead at stage 3+ moved back one status before it is lost


@dataclass(frozen=True)
class _Profile:
    share: float  # of all leads
    pipeline_id: int
    managers: tuple[int, ...]
    phone_kinds: dict[PhoneKind, int]  # weights
    price_range: tuple[int, int, int]  # low, high, step in RUB
    early_price_share: float  # leads lost at the first status that still carry a price
    funnel: _Funnel


_REASONS_EARLY = (UNREACHABLE, UNREACHABLE, NOT_TARGET, NOT_RELEVANT)
_REASONS_LATE = (NO_BUDGET, COMPETITOR, COMPETITOR, NOT_RELEVANT)
PROFILES: dict[Segment, _Profile] = {
    "private": _Profile(
        0.70,
        RETAIL_PIPELINE_ID,
        RETAIL_MANAGERS,
        {"valid": 62, "invalid": 25, "duplicate": 10, "none": 3},
        (30_000, 50_000, 100),
        0.2,
        _Funnel(
            (0.62, 0.55, 0.5, 0.5),
            (_REASONS_EARLY, (NO_BUDGET, NOT_RELEVANT, NOT_TARGET), _REASONS_LATE, _REASONS_LATE),
            (0.2, 8),
            (1, 7),
            0.08,
            0.2,
        ),
    ),
    "dealer": _Profile(
        0.20,
        WHOLESALE_PIPELINE_ID,
        WHOLESALE_MANAGERS,
        {"valid": 100},
        (300_000, 800_000, 5_000),
        0.9,
        _Funnel(
            (0.95, 0.9, 0.85, 0.8),
            ((NOT_RELEVANT,), (NO_BUDGET, NOT_RELEVANT), _REASONS_LATE, _REASONS_LATE),
            (1, 48),
            (2, 14),
            0.15,
            0.25,
        ),
    ),
    "developer": _Profile(
        0.09,
        WHOLESALE_PIPELINE_ID,
        WHOLESALE_MANAGERS,
        {"valid": 95, "none": 5},
        (800_000, 2_500_000, 10_000),
        0.0,
        _Funnel(
            (0.6, 0.45, 0.5, 0.3),
            ((NOT_TARGET, NOT_RELEVANT), (NO_BUDGET, NOT_RELEVANT), _REASONS_LATE, _REASONS_LATE),
            (24, 120),
            (7, 40),
            0.1,
            0.3,
        ),
    ),
    # Walk-in calls nobody tagged: no segment field, no UTM.
    "unknown": _Profile(
        0.01,
        RETAIL_PIPELINE_ID,
        RETAIL_MANAGERS,
        {"valid": 90, "none": 10},
        (40_000, 150_000, 1_000),
        0.0,
        _Funnel(
            (0.5, 0.4, 0.5, 0.4),
            (_REASONS_EARLY, (NO_BUDGET, NOT_RELEVANT), _REASONS_LATE, _REASONS_LATE),
            (1, 24),
            (1, 10),
            0.05,
            0.1,
        ),
    ),
}

PEOPLE = (
    ("Анна", "Смирнова"),
    ("Иван", "Кузнецов"),
    ("Мария", "Попова"),
    ("Сергей", "Васильев"),
    ("Ольга", "Петрова"),
    ("Дмитрий", "Соколов"),
    ("Елена", "Морозова"),
    ("Павел", "Волков"),
)
DEALERS = ("Детство-Сервис", "Игромир", "Площадка-Юг", "Урал-Плей", "Сибирь Детям", "Волга-Спорт")
DEVELOPER_PROJECTS = ("Северный парк", "Новые сады", "Речной квартал", "Солнечный", "Лесная гавань")
GARBAGE_PHONES = ("нет", "не указан", "позвонить вечером", "-", "???", "тел. уточнить")
LANDLINE_CODES = ("495", "499", "812", "343", "383", "846", "861")


def generate(seed: int = 42, n_leads: int = 3000) -> Dataset:
    """The reference case for `seed`: the same seed always gives the same data."""
    if n_leads < MIN_LEADS:
        raise ValueError(f"n_leads must be at least {MIN_LEADS} to plant every case, got {n_leads}")
    days = [FIRST_DAY + timedelta(days=i) for i in range((LAST_DAY - FIRST_DAY).days + 1)]
    ad_stats = _ad_stats(random.Random(f"{seed}:ads"), days, CAMPAIGNS)
    google_ads_stats = _ad_stats(random.Random(f"{seed}:google_ads"), days, GOOGLE_ADS_CAMPAIGNS)
    meta_ads_stats = _ad_stats(random.Random(f"{seed}:meta_ads"), days, META_ADS_CAMPAIGNS)
    all_stats = [*ad_stats, *google_ads_stats, *meta_ads_stats]
    plans = _plan_leads(random.Random(f"{seed}:leads"), n_leads, days, all_stats)
    crm = _Crm(random.Random(f"{seed}:crm"))
    for lead_id, plan in enumerate(plans, start=FIRST_LEAD_ID):
        crm.add_lead(lead_id, plan)
    return Dataset(
        seed=seed,
        account_id=ACCOUNT_ID,
        client_login=CLIENT_LOGIN,
        pipelines=_pipelines(),
        loss_reasons=_loss_reasons(),
        leads=crm.leads,
        contacts=sorted(crm.contacts.values(), key=lambda contact: contact["id"]),
        events=sorted(crm.events, key=lambda event: (event["created_at"], event["id"])),
        campaigns=[{"Id": campaign.id, "Name": campaign.name} for campaign in CAMPAIGNS],
        ad_stats=ad_stats,
        truth=crm.truth,
        google_ads_stats=google_ads_stats,
        meta_ads_stats=meta_ads_stats,
        currency_rates=_currency_rates(random.Random(f"{seed}:rates")),
    )


def moscow_month(epoch_seconds: int) -> date:
    """First day of the Moscow calendar month of a UTC epoch timestamp."""
    return datetime.fromtimestamp(epoch_seconds, MOSCOW).date().replace(day=1)


# --- Ad platforms ------------------------------------------------------------------------


def _ad_stats(
    rng: random.Random, days: Sequence[date], campaigns: Sequence[Campaign]
) -> list[Json]:
    rows = []
    for day in days:
        weekday_factor = 0.7 if day.weekday() >= 5 else 1.0
        for campaign in campaigns:
            if day < campaign.first_day:
                continue
            expected = campaign.clicks_per_day * SEASON[day.month] * weekday_factor
            clicks = max(0, round(expected * rng.uniform(0.7, 1.3)))
            ctr = campaign.ctr * rng.uniform(0.8, 1.2)
            impressions = round(clicks / ctr) + rng.randint(20, 200)  # shown, never clicked
            cost_minor = sum(rng.randint(*campaign.cpc_minor_units) for _ in range(clicks))
            rows.append(
                {
                    "Date": day.isoformat(),
                    "CampaignId": campaign.id,
                    "CampaignName": campaign.name,
                    "Impressions": impressions,
                    "Clicks": clicks,
                    "Cost": cost_minor * 10_000,  # micros
                }
            )
    return rows


def _lead_weights_by_day(ad_stats: Sequence[Json]) -> dict[str, dict[int, float]]:
    """Per day, how likely each campaign is to bring a lead: its clicks times conversion."""
    conversion = {campaign.id: campaign.conversion for campaign in ALL_CAMPAIGNS}
    silent_id, silent_month = CAMPAIGN_WITHOUT_LEADS
    weights: dict[str, dict[int, float]] = {}
    for row in ad_stats:
        day = date.fromisoformat(row["Date"])
        if row["CampaignId"] == silent_id and day.replace(day=1) == silent_month:
            continue
        weight = row["Clicks"] * conversion[row["CampaignId"]]
        if weight > 0:
            weights.setdefault(row["Date"], {})[row["CampaignId"]] = weight
    return weights


# --- Lead plans: who comes when, from where ----------------------------------------------


@dataclass
class _Plan:
    segment: Segment
    created_at: int
    campaign_id: int | None = None
    utm: dict[str, str] = field(default_factory=dict)
    is_deleted: bool = False
    is_boundary: bool = False


def _segment_counts(n_leads: int) -> dict[Segment, int]:
    counts: dict[Segment, int] = {
        segment: round(profile.share * n_leads)
        for segment, profile in PROFILES.items()
        if segment != "unknown"
    }
    counts["unknown"] = n_leads - sum(counts.values())
    return counts


def _plan_leads(
    rng: random.Random, n_leads: int, days: Sequence[date], ad_stats: Sequence[Json]
) -> list[_Plan]:
    counts = _segment_counts(n_leads)
    weights = _lead_weights_by_day(ad_stats)
    paid_days = sorted(weights)
    cum_day_weights = list(itertools.accumulate(sum(weights[day].values()) for day in paid_days))
    n_non_paid = max(1, round(NON_PAID_SHARE * counts["private"]))
    plans: list[_Plan] = []
    for index in range(counts["private"] - n_non_paid):
        if index < BOUNDARY_LEADS:
            created_at = BOUNDARY_START + rng.randrange(3 * 3600)
            day = datetime.fromtimestamp(created_at, MOSCOW).date().isoformat()
        else:
            day = rng.choices(paid_days, cum_weights=cum_day_weights)[0]
            created_at = _moscow_time(rng, date.fromisoformat(day), range(6, 24))
        campaign_id = rng.choices(list(weights[day]), weights=list(weights[day].values()))[0]
        utm = _paid_utm(rng, campaign_id)
        plans.append(
            _Plan("private", created_at, campaign_id, utm, is_boundary=index < BOUNDARY_LEADS)
        )
    for _ in range(n_non_paid):
        utm = dict(rng.choice(NON_PAID_UTMS))
        plans.append(_Plan("private", _moscow_time(rng, rng.choice(days), range(6, 24)), utm=utm))
    for segment in ("dealer", "developer", "unknown"):
        for _ in range(counts[segment]):
            plans.append(_Plan(segment, _moscow_time(rng, rng.choice(days), range(9, 20))))
    plans.sort(key=lambda plan: plan.created_at)  # ids grow with creation time, as in amoCRM
    deletable = [plan for plan in plans if not plan.is_boundary]
    for plan in rng.sample(deletable, max(1, round(DELETED_SHARE * n_leads))):
        plan.is_deleted = True
    return plans


def _moscow_time(rng: random.Random, day: date, hours: range) -> int:
    """A moment of `day` in Moscow; hours from 06:00 keep the UTC date equal to it."""
    start = datetime(day.year, day.month, day.day, rng.choice(hours), tzinfo=MOSCOW)
    return int(start.timestamp()) + rng.randrange(3600)


def campaign_by_id(campaign_id: int) -> Campaign:
    return next(campaign for campaign in ALL_CAMPAIGNS if campaign.id == campaign_id)


def _paid_utm(rng: random.Random, campaign_id: int) -> dict[str, str]:
    """The tags of a lead from the campaign: its id, or its name oddly cased and spaced;
    a lead naming the brand campaign that two platforms share sometimes has no source."""
    campaign = campaign_by_id(campaign_id)
    reference = str(campaign_id)
    source: str | None = rng.choice(PLATFORM_UTM_SOURCES[campaign.platform])
    if rng.random() < CAMPAIGN_NAME_AS_UTM_SHARE:
        cased = rng.choice((campaign.name, campaign.name.lower(), campaign.name.upper()))
        reference = " " * rng.randint(0, 2) + cased + " " * rng.randint(0, 2)
        if campaign.name == BRAND_CAMPAIGN_NAME and rng.random() < AMBIGUOUS_NAME_SHARE:
            source = None
    medium = "paid_social" if campaign.platform == "meta_ads" else "cpc"
    utm = {"UTM_MEDIUM": medium, "UTM_CAMPAIGN": reference}
    return utm if source is None else {"UTM_SOURCE": source, **utm}


def _currency_rates(rng: random.Random) -> list[Json]:
    """The CBR's daily publications: a random walk per currency, set on each working day
    and dated the day it takes effect, the next calendar day (as the CBR dates its
    documents: Tuesday to Saturday, none dated Sunday, Monday or after a holiday)."""
    rows = []
    values = {code: start for code, _, _, _, start, _ in RATE_CURRENCIES}
    day = RATES_FIRST_DAY
    while day <= LAST_DAY:
        if day.weekday() < 5 and day not in RUSSIAN_HOLIDAYS:
            for code, num_code, cbr_id, nominal, _, name in RATE_CURRENCIES:
                step = Decimal(str(round(rng.uniform(-0.008, 0.008), 6)))
                values[code] = (values[code] * (1 + step)).quantize(Decimal("0.0001"))
                rows.append(
                    {
                        "Date": (day + timedelta(days=1)).isoformat(),
                        "ID": cbr_id,
                        "NumCode": num_code,
                        "CharCode": code,
                        "Nominal": nominal,
                        "Name": name,
                        "Value": values[code],
                    }
                )
        day += timedelta(days=1)
    return rows


# --- amoCRM ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Journey:
    moves: list[tuple[int, int, int]]  # (at, status before, status after)
    status_id: int
    loss_reason_id: int | None
    closed_at: int | None
    furthest_stage: int


@dataclass(frozen=True)
class _ValidPhone:
    created_at: int
    lead_id: int
    contact_id: int
    national: str  # ten digits after +7


@dataclass(frozen=True)
class _Phones:
    contact_ids: list[int]
    kind: PhoneKind
    invalid_reason: PhoneInvalidReason | None = None
    duplicate_of: int | None = None


class _Crm:
    """Builds leads, contacts and events one lead at a time, in creation order."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self.leads: list[Json] = []
        self.contacts: dict[int, Json] = {}
        self.events: list[Json] = []
        self.truth: dict[int, LeadTruth] = {}
        self._used_numbers: set[str] = set()
        self._originals: list[_ValidPhone] = []  # live private leads with a fresh valid phone
        self._original_times: list[int] = []

    def add_lead(self, lead_id: int, plan: _Plan) -> None:
        profile = PROFILES[plan.segment]
        manager = self._rng.choice(profile.managers)
        phones = self._phones(lead_id, plan, manager)
        stages = STAGE_STATUS_IDS[profile.pipeline_id]
        journey = self._journey(plan, phones.kind, profile.funnel, stages)
        price = self._price(profile, journey)
        for at, before, after in journey.moves:
            self.events.append(
                self._status_event(lead_id, profile.pipeline_id, manager, at, before, after)
            )
        last_change = journey.moves[-1][0] if journey.moves else plan.created_at
        self.leads.append(
            {
                "id": lead_id,
                "name": self._lead_name(plan),
                "price": price,
                "responsible_user_id": manager,
                "group_id": 0,
                "status_id": journey.status_id,
                "pipeline_id": profile.pipeline_id,
                "loss_reason_id": journey.loss_reason_id,
                "source_id": None,
                "created_by": WEB_FORM_USER if plan.utm else manager,
                "updated_by": manager,
                "created_at": plan.created_at,
                "updated_at": self._maybe_edited(last_change),
                "closed_at": journey.closed_at,
                "closest_task_at": None,
                "is_deleted": plan.is_deleted,
                "custom_fields_values": _lead_fields(plan),
                "score": None,
                "account_id": ACCOUNT_ID,
                "labor_cost": None,
                "_embedded": {
                    "tags": [],
                    "companies": [],
                    "contacts": [
                        {"id": cid, "is_main": i == 0} for i, cid in enumerate(phones.contact_ids)
                    ],
                },
            }
        )
        won = journey.status_id == WON_STATUS_ID
        platform = None if plan.campaign_id is None else campaign_by_id(plan.campaign_id).platform
        self.truth[lead_id] = LeadTruth(
            lead_id=lead_id,
            segment=plan.segment,
            phone_kind=phones.kind,
            phone_invalid_reason=phones.invalid_reason,
            duplicate_of=phones.duplicate_of,
            campaign_id=plan.campaign_id,
            platform=platform,
            channel="ambiguous" if platform and "UTM_SOURCE" not in plan.utm else platform,
            utm_source=plan.utm.get("UTM_SOURCE"),
            cohort_month=moscow_month(plan.created_at),
            outcome="won" if won else "lost" if journey.status_id == LOST_STATUS_ID else "open",
            furthest_stage=journey.furthest_stage,
            won_amount=price if won else 0,
            is_deleted=plan.is_deleted,
        )

    # Phones ---------------------------------------------------------------------------

    def _phones(self, lead_id: int, plan: _Plan, manager: int) -> _Phones:
        weights = PROFILES[plan.segment].phone_kinds
        kind = self._rng.choices(list(weights), weights=list(weights.values()))[0]
        if kind == "duplicate":
            duplicate = self._duplicate(plan, manager)
            if duplicate is not None:
                return duplicate
            kind = "valid"  # nobody to duplicate yet
        if kind == "none":
            if self._rng.random() < 0.5:
                return _Phones([], "none", "no_phone")
            return _Phones([self._new_contact(plan.created_at, manager, [])], "none", "no_phone")
        if kind == "invalid":
            value, reason = self._invalid_phone()
            contact_id = self._new_contact(plan.created_at, manager, [(value, "MOB")])
            return _Phones([contact_id], "invalid", reason)
        return self._valid(lead_id, plan, manager)

    def _valid(self, lead_id: int, plan: _Plan, manager: int) -> _Phones:
        rng = self._rng
        if plan.segment == "private" and rng.random() < 0.01:
            foreign = f"+375 29 {rng.randint(1, 9)}{rng.randrange(10**6):06d}"  # Belarus mobile
            return _Phones(
                [self._new_contact(plan.created_at, manager, [(foreign, "MOB")])], "valid"
            )
        landline = plan.segment in ("dealer", "developer") and rng.random() < 0.6
        national = self._fresh_number(landline)
        values = [(_format_ru(rng, national), "WORK" if landline else "MOB")]
        if rng.random() < 0.25:  # a second number, now and then one that is no number at all
            extra = rng.choice(GARBAGE_PHONES) if rng.random() < 0.3 else None
            values.append((extra or _format_ru(rng, self._fresh_number(False)), "WORK"))
        contact_id = self._new_contact(plan.created_at, manager, values)
        if plan.segment == "private" and not plan.is_deleted:
            self._originals.append(_ValidPhone(plan.created_at, lead_id, contact_id, national))
            self._original_times.append(plan.created_at)
        return _Phones([contact_id], "valid")

    def _duplicate(self, plan: _Plan, manager: int) -> _Phones | None:
        window_start = plan.created_at - int(DUPLICATE_WINDOW.total_seconds())
        first = bisect.bisect_left(self._original_times, window_start)
        candidates = [o for o in self._originals[first:] if o.created_at < plan.created_at]
        if not candidates:
            return None
        original = self._rng.choice(candidates)
        if self._rng.random() < 0.5:  # the manager attached the lead to the known contact
            contact_id = original.contact_id
        else:  # the customer filled the form again: a new contact, the number typed anew
            number = _format_ru(self._rng, original.national)
            contact_id = self._new_contact(plan.created_at, manager, [(number, "MOB")])
        return _Phones([contact_id], "duplicate", duplicate_of=original.lead_id)

    def _invalid_phone(self) -> tuple[str, PhoneInvalidReason]:
        rng = self._rng
        national = "9" + f"{rng.randrange(10**9):09d}"
        area, block, pair = national[:3], national[3:6], national[6:8]
        variant = rng.choices(
            ("short", "zero_prefix", "nine_digits", "garbage", "empty"),
            weights=(30, 15, 15, 25, 15),
        )[0]
        if variant == "short":
            return f"+7 {area} {block}-{pair}", "invalid_number"
        if variant == "zero_prefix":
            return f"+7 000 {block}-{pair}-{national[8:]}", "invalid_number"
        if variant == "nine_digits":
            return f"8{national[:9]}", "invalid_number"
        if variant == "garbage":
            return rng.choice(GARBAGE_PHONES), "unparseable"
        return "", "no_phone"

    def _fresh_number(self, landline: bool) -> str:
        while True:
            prefix = (
                self._rng.choice(LANDLINE_CODES) if landline else f"9{self._rng.randrange(100):02d}"
            )
            national = f"{prefix}{self._rng.randrange(10**7):07d}"
            if national not in self._used_numbers:
                self._used_numbers.add(national)
                return national

    def _new_contact(self, created_at: int, manager: int, phones: list[tuple[str, str]]) -> int:
        contact_id = FIRST_CONTACT_ID + len(self.contacts)
        first, last = self._rng.choice(PEOPLE)
        self.contacts[contact_id] = {
            "id": contact_id,
            "name": f"{first} {last}",
            "first_name": first,
            "last_name": last,
            "responsible_user_id": manager,
            "group_id": 0,
            "created_by": manager,
            "updated_by": manager,
            "created_at": created_at,
            "updated_at": self._maybe_edited(created_at),
            "closest_task_at": None,
            "is_deleted": False,
            "is_unsorted": False,
            "custom_fields_values": [_phone_field(phones)] if phones else None,
            "account_id": ACCOUNT_ID,
            "_embedded": {"tags": [], "companies": []},
        }
        return contact_id

    # Status history -------------------------------------------------------------------

    def _journey(
        self, plan: _Plan, phone_kind: PhoneKind, funnel: _Funnel, stages: tuple[int, ...]
    ) -> _Journey:
        rng = self._rng
        if plan.segment == "private" and phone_kind in ("invalid", "none") and rng.random() < 0.9:
            reasons = (UNREACHABLE,) * 18 + (NOT_TARGET, None)
            return self._lost_at_first(plan.created_at, stages, rng.uniform(24, 96), reasons)
        if phone_kind == "duplicate" and rng.random() < 0.7:
            reasons = (NOT_RELEVANT, NOT_RELEVANT, NOT_TARGET)
            return self._lost_at_first(plan.created_at, stages, rng.uniform(0.5, 24), reasons)
        return self._walk(plan.created_at, funnel, stages)

    def _lost_at_first(
        self,
        created_at: int,
        stages: tuple[int, ...],
        after_hours: float,
        reasons: tuple[int | None, ...],
    ) -> _Journey:
        at = created_at + int(after_hours * 3600)
        if at >= SNAPSHOT_AT:
            return _Journey([], stages[0], None, None, 1)
        reason = self._rng.choice(reasons)
        return _Journey([(at, stages[0], LOST_STATUS_ID)], LOST_STATUS_ID, reason, at, 1)

    def _walk(self, created_at: int, funnel: _Funnel, stages: tuple[int, ...]) -> _Journey:
        rng = self._rng
        moves: list[tuple[int, int, int]] = []
        stage = furthest = 0
        at = created_at + int(rng.uniform(*funnel.first_touch_hours) * 3600)
        while at < SNAPSHOT_AT:
            if rng.random() < funnel.advance[stage]:
                if stage == len(stages) - 1:
                    moves.append((at, stages[stage], WON_STATUS_ID))
                    return _Journey(moves, WON_STATUS_ID, None, at, furthest + 1)
                skip = stage < len(stages) - 2 and rng.random() < funnel.skip_chance
                target = stage + (2 if skip else 1)
                moves.append((at, stages[stage], stages[target]))
                stage = furthest = target
            else:
                if stage >= 2 and rng.random() < funnel.back_chance:
                    moves.append((at, stages[stage], stages[stage - 1]))
                    stage -= 1
                    at += self._step(funnel)
                    if at >= SNAPSHOT_AT:
                        break
                reason = None
                if rng.random() >= NO_REASON_SHARE:
                    reason = rng.choice(funnel.loss_reasons[furthest])
                moves.append((at, stages[stage], LOST_STATUS_ID))
                return _Journey(moves, LOST_STATUS_ID, reason, at, furthest + 1)
            at += self._step(funnel)
        return _Journey(moves, stages[stage], None, None, furthest + 1)

    def _step(self, funnel: _Funnel) -> int:
        return int(self._rng.uniform(*funnel.step_days) * 86_400)

    def _status_event(
        self, lead_id: int, pipeline_id: int, user: int, at: int, before: int, after: int
    ) -> Json:
        return {
            "id": f"01{self._rng.getrandbits(96):024x}",
            "type": "lead_status_changed",
            "entity_id": lead_id,
            "entity_type": "lead",
            "created_by": user,
            "created_at": at,
            "value_after": [{"lead_status": {"id": after, "pipeline_id": pipeline_id}}],
            "value_before": [{"lead_status": {"id": before, "pipeline_id": pipeline_id}}],
            "account_id": ACCOUNT_ID,
        }

    # Lead attributes ------------------------------------------------------------------

    def _price(self, profile: _Profile, journey: _Journey) -> int:
        low, high, step = profile.price_range
        known = journey.furthest_stage >= 2 or self._rng.random() < profile.early_price_share
        amount = self._rng.randrange(low, high + step, step)
        return amount if known else 0

    def _lead_name(self, plan: _Plan) -> str:
        if plan.segment == "dealer":
            return f"{self._rng.choice(DEALERS)} — заказ оборудования"
        if plan.segment == "developer":
            return f"ЖК «{self._rng.choice(DEVELOPER_PROJECTS)}» — благоустройство двора"
        return "Заявка из формы на сайте" if plan.utm else "Звонок в офис"

    def _maybe_edited(self, last_change: int) -> int:
        """Now and then a record is edited after its last status change (price, fields)."""
        if self._rng.random() >= LATE_EDIT_SHARE:
            return last_change
        return min(SNAPSHOT_AT - 1, last_change + self._rng.randrange(3600, 20 * 86_400))


def _lead_fields(plan: _Plan) -> list[Json] | None:
    fields = []
    if plan.segment != "unknown":
        fields.append(
            {
                "field_id": SEGMENT_FIELD_ID,
                "field_name": SEGMENT_FIELD_NAME,
                "field_code": None,
                "field_type": "select",
                "values": [
                    {
                        "value": SEGMENT_LABELS[plan.segment],
                        "enum_id": SEGMENT_ENUM_IDS[plan.segment],
                        "enum_code": None,
                    }
                ],
            }
        )
    for code, value in plan.utm.items():
        fields.append(
            {
                "field_id": UTM_FIELD_IDS[code],
                "field_name": code.lower(),
                "field_code": code,
                "field_type": "tracking_data",
                "values": [{"value": value}],
            }
        )
    return fields or None


def _phone_field(phones: list[tuple[str, str]]) -> Json:
    return {
        "field_id": PHONE_FIELD_ID,
        "field_name": "Телефон",
        "field_code": "PHONE",
        "field_type": "multitext",
        "values": [
            {"value": value, "enum_id": PHONE_ENUM_IDS[code], "enum_code": code}
            for value, code in phones
        ],
    }


def _format_ru(rng: random.Random, national: str) -> str:
    """A Russian number the way people type it."""
    area, block, pair, last = national[:3], national[3:6], national[6:8], national[8:]
    return rng.choice(
        (
            f"+7 {area} {block}-{pair}-{last}",
            f"8{national}",
            f"8 ({area}) {block} {pair} {last}",
            f"+7{national}",
            f"+7 ({area}) {block}-{pair}-{last}",
        )
    )


def _pipelines() -> list[Json]:
    colors = ("#99ccff", "#ffff99", "#ffcc66", "#ffcccc")
    pipelines = []
    for sort, (pipeline_id, name) in enumerate(
        ((RETAIL_PIPELINE_ID, "Розница"), (WHOLESALE_PIPELINE_ID, "Опт")), start=1
    ):
        ordinary = [
            (status_id, stage_name, (i + 1) * 10, True, colors[i])
            for i, (status_id, stage_name) in enumerate(
                zip(STAGE_STATUS_IDS[pipeline_id], STAGE_NAMES, strict=True)
            )
        ]
        closing = [
            (WON_STATUS_ID, "Успешно реализовано", 10_000, False, "#CCFF66"),
            (LOST_STATUS_ID, "Закрыто и не реализовано", 11_000, False, "#D5D8DB"),
        ]
        statuses = [
            {
                "id": status_id,
                "name": status_name,
                "sort": status_sort,
                "is_editable": editable,
                "pipeline_id": pipeline_id,
                "color": color,
                "type": 0,
                "account_id": ACCOUNT_ID,
            }
            for status_id, status_name, status_sort, editable, color in ordinary + closing
        ]
        pipelines.append(
            {
                "id": pipeline_id,
                "name": name,
                "sort": sort,
                "is_main": sort == 1,
                "is_unsorted_on": False,
                "is_archive": False,
                "account_id": ACCOUNT_ID,
                "_embedded": {"statuses": statuses},
            }
        )
    return pipelines


def _loss_reasons() -> list[Json]:
    created_at = int(datetime(2025, 6, 2, 9, tzinfo=UTC).timestamp())
    return [
        {
            "id": reason_id,
            "name": name,
            "sort": sort,
            "created_at": created_at,
            "updated_at": created_at,
        }
        for sort, (reason_id, name) in enumerate(LOSS_REASON_NAMES.items(), start=1)
    ]
