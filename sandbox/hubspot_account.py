"""The HubSpot account of the reference case: contacts (the leads), deals, stage history.

Built from the amoCRM dataset of the same seed (the same business selling through a third
CRM), so that some of its phones are amoCRM phones and cross-source duplicates exist.
Records are kept in wire shape (ids and property values as strings, dates ISO); the truth
says what each canonical lead is meant to come out as.

Planted on purpose: deals associated with two contacts (the deal belongs to the earlier
created one), contacts without a deal, archived contacts and deals, contacts merged into
another one (gone from every listing, named in the survivor's `hs_merged_object_ids`),
phones shared with amoCRM leads, garbage phones, UTM tags in HubSpot's analytics source
properties, and the segment as the contact's buyer persona (`hs_persona`, whose values
are internal names such as `persona_1`), missing on some contacts. The economics follow
the amoCRM reference case: dealers are few and bring most of the revenue, private buyers
are most of the contacts with small deals.

Nothing happens after the reference snapshot: a deal still walking its pipeline then
stays open where it is.
"""

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sandbox.bitrix24_portal import amocrm_phones
from sandbox.generator import FIRST_DAY, SNAPSHOT_AT, Dataset, Json, Segment
from sandbox.hubspot import Account, iso, wire_record

MIN_ACCOUNT_CONTACTS = 30
ACCOUNT_SHARE = 0.1  # of the amoCRM leads
FIRST_CONTACT_ID = 7001
FIRST_DEAL_ID = 9001
PIPELINE_ID = "default"
OPEN_STAGES = (  # HubSpot's default sales pipeline
    ("appointmentscheduled", "Appointment Scheduled", "0.2"),
    ("qualifiedtobuy", "Qualified To Buy", "0.4"),
    ("presentationscheduled", "Presentation Scheduled", "0.6"),
    ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8"),
    ("contractsent", "Contract Sent", "0.9"),
)
WON, LOST = "closedwon", "closedlost"
SOURCES = (  # hs_analytics_source, _data_1, _data_2
    ("PAID_SEARCH", "yandex", "brand_msk"),
    ("ORGANIC_SEARCH", "google", None),
    ("DIRECT_TRAFFIC", None, None),
)
SNAPSHOT = datetime.fromtimestamp(SNAPSHOT_AT, UTC)
DEAL_AFTER_CONTACT_HOURS = (2.0, 48.0)
# Contacts are created early enough for their deal to be created before the snapshot.
LAST_CONTACT_CREATED = SNAPSHOT - timedelta(hours=DEAL_AFTER_CONTACT_HOURS[1] + 1)
SEGMENT_PROPERTY = "hs_persona"
PERSONAS: dict[Segment, str] = {  # the account's personas, by internal value
    "dealer": "persona_1",
    "developer": "persona_2",
    "private": "persona_3",
}


@dataclass(frozen=True)
class _Economics:
    """How the contacts of one segment buy."""

    share: float  # of the contacts
    amount: tuple[int, int, int]  # low, high, step in RUB
    win_chance: float  # of a deal that got past the second open stage


ECONOMICS: dict[Segment, _Economics] = {
    "dealer": _Economics(0.18, (400_000, 2_000_000, 5_000), 0.75),
    "developer": _Economics(0.07, (800_000, 2_500_000, 10_000), 0.15),
    "private": _Economics(0.67, (30_000, 90_000, 1_000), 0.35),
    # Contacts nobody gave a persona: small retail orders, like private buyers'.
    "unknown": _Economics(0.08, (30_000, 90_000, 1_000), 0.3),
}


@dataclass(frozen=True)
class AccountLeadTruth:
    """What one HubSpot contact is meant to be as a canonical lead (`hubspot:<id>`)."""

    lead_id: str
    segment: Segment  # `unknown`: the contact has no persona
    phone_kind: str  # valid, duplicate (of an amoCRM phone), garbage, none
    deal_ids: tuple[int, ...]  # the deals it owns (it is their earliest created contact)
    won_amount: int
    in_marts: bool  # False once archived or merged away
    utm_source: str | None


@dataclass
class GeneratedAccount:
    account: Account
    truth: dict[str, AccountLeadTruth] = field(default_factory=dict)


def generate_account(dataset: Dataset) -> GeneratedAccount:
    """The HubSpot account derived from `dataset`, with its truth."""
    rng = random.Random(f"{dataset.seed}:hubspot")
    n_contacts = max(MIN_ACCOUNT_CONTACTS, int(len(dataset.leads) * ACCOUNT_SHARE))
    builder = _AccountBuilder(rng, amocrm_phones(dataset))
    for index in range(n_contacts):
        builder.add_contact(index)
    return builder.finish()


def _pipeline() -> Json:
    stages = [*OPEN_STAGES, (WON, "Closed Won", "1.0"), (LOST, "Closed Lost", "0.0")]
    return {
        "id": PIPELINE_ID,
        "label": "Sales Pipeline",
        "displayOrder": 0,
        "stages": [
            {
                "id": stage_id,
                "label": label,
                "displayOrder": order,
                "metadata": {
                    "isClosed": str(stage_id in (WON, LOST)).lower(),
                    "probability": probability,
                },
            }
            for order, (stage_id, label, probability) in enumerate(stages)
        ],
    }


@dataclass
class _Planned:
    contact_id: str
    created: datetime
    segment: Segment
    phone_kind: str
    utm_source: str | None
    deal_ids: list[int] = field(default_factory=list)
    won_amount: int = 0
    in_marts: bool = True


class _AccountBuilder:
    def __init__(self, rng: random.Random, amocrm_phones: list[str]) -> None:
        self._rng = rng
        self._amocrm_phones = amocrm_phones
        self._account = Account(pipelines=[_pipeline()])
        self._planned: list[_Planned] = []
        self._next_deal = FIRST_DEAL_ID
        self._last_phone = 0

    def add_contact(self, index: int) -> None:
        contact_id = str(FIRST_CONTACT_ID + index)
        created = self._created_at()
        segment = self._segment()
        phone, phone_kind = self._phone(index)
        source, detail_1, detail_2 = SOURCES[index % len(SOURCES)]
        properties = {
            "createdate": iso(created),
            "lastmodifieddate": iso(created + timedelta(hours=1)),
            "lifecyclestage": "lead",
            "phone": phone,
            "hs_analytics_source": source,
            "hs_analytics_source_data_1": detail_1,
            "hs_analytics_source_data_2": detail_2,
            SEGMENT_PROPERTY: PERSONAS.get(segment),
        }
        record = wire_record(contact_id, properties, created, created + timedelta(hours=1))
        self._account.contacts[contact_id] = record
        planned = _Planned(contact_id, created, segment, phone_kind, source)
        self._planned.append(planned)
        if index % 3 != 2:  # every third contact never gets a deal
            self._add_deal(planned, index)
        if index % 10 == 7 and len(self._planned) > 1:
            # A later contact of an earlier deal: the deal stays with the earlier contact.
            earlier = self._planned[-2]
            if earlier.deal_ids:
                self._account.deal_contacts[str(earlier.deal_ids[0])].append(contact_id)
        if index % 17 == 11:
            self._account.archive("contacts", contact_id, created + timedelta(days=2))
            planned.in_marts = False

    def finish(self) -> GeneratedAccount:
        self._merge_pairs()
        truth = {
            f"hubspot:{p.contact_id}": AccountLeadTruth(
                lead_id=f"hubspot:{p.contact_id}",
                segment=p.segment,
                phone_kind=p.phone_kind,
                deal_ids=tuple(p.deal_ids),
                won_amount=p.won_amount,
                in_marts=p.in_marts,
                utm_source=p.utm_source,
            )
            for p in self._planned
        }
        return GeneratedAccount(self._account, truth)

    def _merge_pairs(self) -> None:
        """Every 13th contact (without a deal) is merged into the contact before it."""
        for index in range(12, len(self._planned), 13):
            gone, survivor = self._planned[index], self._planned[index - 1]
            if gone.deal_ids or not (gone.in_marts and survivor.in_marts):
                continue
            merged_at = max(gone.created, survivor.created) + timedelta(hours=2)
            self._account.merge_contacts(gone.contact_id, survivor.contact_id, merged_at)
            gone.in_marts = False

    def _add_deal(self, owner: _Planned, index: int) -> None:
        deal_id = str(self._next_deal)
        self._next_deal += 1
        economics = ECONOMICS[owner.segment]
        created = owner.created + timedelta(hours=self._rng.uniform(*DEAL_AFTER_CONTACT_HOURS))
        furthest = self._rng.randrange(len(OPEN_STAGES))
        won = furthest >= 2 and self._rng.random() < economics.win_chance
        planned_outcome = WON if won else self._rng.choice((LOST, None))
        stages = [stage_id for stage_id, _, _ in OPEN_STAGES[: furthest + 1]]
        history = self._history(created, [*stages, planned_outcome] if planned_outcome else stages)
        outcome = history[-1]["value"] if history[-1]["value"] in (WON, LOST) else None
        amount = self._rng.randrange(*economics.amount)
        properties = {
            "createdate": iso(created),
            "hs_lastmodifieddate": history[-1]["timestamp"],
            "pipeline": PIPELINE_ID,
            "dealstage": history[-1]["value"],
            "amount": str(amount),
            "deal_currency_code": "RUB",
            "closedate": history[-1]["timestamp"] if outcome else None,
            "hs_is_closed": str(outcome is not None).lower(),
            "hs_is_closed_won": str(outcome == WON).lower(),
        }
        modified = datetime.fromisoformat(history[-1]["timestamp"])
        self._account.deals[deal_id] = wire_record(deal_id, properties, created, modified)
        self._account.deal_stage_history[deal_id] = list(reversed(history))  # newest first
        self._account.deal_contacts[deal_id] = [owner.contact_id]
        if index % 23 == 5:
            archived_at = min(modified + timedelta(days=1), SNAPSHOT - timedelta(minutes=1))
            self._account.archive("deals", deal_id, archived_at)
            return
        owner.deal_ids.append(int(deal_id))
        owner.won_amount += amount if outcome == WON else 0

    def _history(self, created: datetime, stages: list[str]) -> list[Json]:
        """`dealstage` values of a deal entering `stages` in turn from `created`, oldest
        first; a deal still on its way at the snapshot stays where it then was."""
        history, moment = [], created
        for stage_id in stages:
            if moment >= SNAPSHOT:
                break
            history.append({"value": stage_id, "timestamp": iso(moment), "sourceType": "CRM_UI"})
            moment += timedelta(days=self._rng.uniform(0.5, 6))
        return history

    def _created_at(self) -> datetime:
        start = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=UTC)
        span = int((LAST_CONTACT_CREATED - start).total_seconds())
        return start + timedelta(seconds=self._rng.randrange(span))

    def _segment(self) -> Segment:
        weights = [economics.share for economics in ECONOMICS.values()]
        return self._rng.choices(list(ECONOMICS), weights=weights)[0]

    def _phone(self, index: int) -> tuple[str | None, str]:
        """Every 5th contact an amoCRM lead's phone, every 9th garbage, every 11th none."""
        if index % 9 == 4:
            return "нет", "garbage"
        if index % 11 == 10:
            return None, "none"
        if index % 5 == 0 and self._amocrm_phones:
            return self._amocrm_phones[index // 5 % len(self._amocrm_phones)], "duplicate"
        self._last_phone += 1
        return f"+7 (913) 7{self._last_phone:06d}", "valid"
