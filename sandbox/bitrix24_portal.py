"""The Bitrix24 portal of the reference case: leads, deals, contacts, stage history.

Built from the amoCRM dataset of the same seed (the same business selling through a second
CRM), so that some of its phones are amoCRM phones and cross-source duplicates exist.
Records are kept in wire shape (ids and money as strings, dates ISO with the Moscow
offset); the truth says what each canonical lead is meant to come out as.

Planted on purpose: junk leads closed without a deal (STATUS_DESCRIPTION is the reason),
leads converted into one deal and leads with two deals, deals without LEAD_ID (a lead of
their own is made from them), leads with several phones, phones shared with amoCRM leads,
and garbage phones.
"""

# ruff: noqa: RUF001 - the data is Russian text: its Cyrillic letters are not look-alikes

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sandbox.generator import FIRST_DAY, LAST_DAY, MOSCOW, SEGMENT_LABELS, Dataset, Json, Segment

SEGMENT_FIELD = "UF_CRM_1716200001"  # the portal's "Тип клиента" user field
MIN_PORTAL_LEADS = 30
PORTAL_SHARE = 0.1  # of the amoCRM leads
USER_ID = 1  # the webhook's user

LEAD_STATUSES = (  # (STATUS_ID, NAME, SORT, SEMANTICS)
    ("NEW", "Не обработан", 10, "P"),
    ("IN_PROCESS", "В работе", 20, "P"),
    ("PROCESSED", "Обработан", 30, "P"),
    ("CONVERTED", "Качественный лид", 40, "S"),
    ("JUNK", "Некачественный лид", 50, "F"),
)
DEAL_STAGES = (
    ("NEW", "Новая", 10, "P"),
    ("PREPARATION", "Подготовка документов", 20, "P"),
    ("PREPAYMENT_INVOICE", "Счёт на предоплату", 30, "P"),
    ("EXECUTING", "В работе", 40, "P"),
    ("WON", "Сделка успешна", 50, "S"),
    ("LOSE", "Сделка провалена", 60, "F"),
)
OPEN_DEAL_STAGES = tuple(stage[0] for stage in DEAL_STAGES[:4])
JUNK_REASONS = ("Не дозвонились", "Не целевой", "Спам")
SEGMENT_WEIGHTS: dict[Segment, float] = {"dealer": 0.2, "developer": 0.1, "private": 0.7}
AMOUNT_RANGES: dict[Segment, tuple[int, int]] = {
    "dealer": (400_000, 2_500_000),
    "developer": (900_000, 4_000_000),
    "private": (60_000, 250_000),
}


@dataclass(frozen=True)
class PortalLeadTruth:
    """What one canonical Bitrix24 lead is meant to be (`lead_id` as the marts qualify it:
    `bitrix24:<lead id>`, or `bitrix24:deal:<deal id>` for a deal without a lead)."""

    lead_id: str
    segment: Segment
    phone_kind: str  # valid, duplicate (of an amoCRM phone), garbage, none
    deals: int
    won_amount: int  # the sum of its won deals
    is_junk: bool


@dataclass
class Portal:
    statuses: list[Json]
    leads: list[Json]
    deals: list[Json]
    contacts: list[Json]
    lead_history: list[Json]
    deal_history: list[Json]
    truth: dict[str, PortalLeadTruth]


def wire_time(moment: datetime) -> str:
    return moment.astimezone(MOSCOW).isoformat(timespec="seconds")


def generate_portal(dataset: Dataset) -> Portal:
    """The portal for `dataset`'s seed: the same seed always gives the same portal."""
    builder = _PortalBuilder(random.Random(f"{dataset.seed}:bitrix24"), amocrm_phones(dataset))
    n_leads = max(MIN_PORTAL_LEADS, int(len(dataset.leads) * PORTAL_SHARE))
    for index in range(n_leads):
        builder.add_lead(index)
    for index in range(max(3, n_leads // 10)):
        builder.add_deal_without_lead(index)
    return builder.portal()


def amocrm_phones(dataset: Dataset) -> list[str]:
    """Valid phones of live amoCRM leads, for cross-source duplicates."""
    valid = {t.lead_id for t in dataset.truth.values() if t.phone_kind == "valid"}
    contact_ids = {
        c["id"]
        for lead in dataset.leads
        if lead["id"] in valid and not lead["is_deleted"]
        for c in lead["_embedded"]["contacts"]
    }
    phones = []
    for contact in dataset.contacts:
        if contact["id"] not in contact_ids:
            continue
        for field in contact.get("custom_fields_values") or []:
            if field.get("field_code") == "PHONE":
                phones.extend(v["value"] for v in field["values"][:1])
    return sorted(set(phones))[:50]


def _statuses() -> list[Json]:
    rows = []
    for entity_id, statuses in (("STATUS", LEAD_STATUSES), ("DEAL_STAGE", DEAL_STAGES)):
        for status_id, name, sort, semantics in statuses:
            rows.append(
                {
                    "ID": str(len(rows) + 1),
                    "ENTITY_ID": entity_id,
                    "STATUS_ID": status_id,
                    "NAME": name,
                    "NAME_INIT": name,
                    "SORT": str(sort),
                    "SYSTEM": "Y",
                    "CATEGORY_ID": "0" if entity_id == "DEAL_STAGE" else None,
                    "COLOR": "#39A8EF",
                    "SEMANTICS": None if semantics == "P" else semantics,
                    "EXTRA": {"SEMANTICS": {"P": "process", "S": "success", "F": "failure"}[
                        semantics
                    ], "COLOR": "#39A8EF"},
                }
            )  # fmt: skip
    return rows


class _PortalBuilder:
    def __init__(self, rng: random.Random, amocrm_phones: list[str]) -> None:
        self._rng = rng
        self._amocrm_phones = amocrm_phones
        self._used: set[str] = set(amocrm_phones)
        self._last_phone_id = 100
        self.leads: list[Json] = []
        self.deals: list[Json] = []
        self.contacts: list[Json] = []
        self.lead_history: list[Json] = []
        self.deal_history: list[Json] = []
        self.truth: dict[str, PortalLeadTruth] = {}

    def portal(self) -> Portal:
        return Portal(
            _statuses(),
            self.leads,
            self.deals,
            self.contacts,
            sorted(self.lead_history, key=lambda h: int(h["ID"])),
            sorted(self.deal_history, key=lambda h: int(h["ID"])),
            self.truth,
        )

    def add_lead(self, index: int) -> None:
        lead_id = index + 1
        segment = self._segment()
        created = self._created_at()
        phones, phone_kind = self._phones(index)
        # Every 7th lead is junk, every 5th stays open; the rest convert, every 6th of them
        # into two deals.
        is_junk = index % 7 == 3
        converted = not is_junk and index % 5 != 1
        status, closed = "IN_PROCESS", None
        self._history(self.lead_history, lead_id, created, "NEW", 1)
        moved = created + timedelta(hours=self._rng.uniform(1, 48))
        self._history(self.lead_history, lead_id, moved, "IN_PROCESS", 2)
        won_amount, deals = 0, 0
        if is_junk or converted:
            closed = moved + timedelta(hours=self._rng.uniform(1, 72))
            status = "JUNK" if is_junk else "CONVERTED"
            self._history(self.lead_history, lead_id, closed, status, 3)
        if converted:
            deals = 2 if index % 6 == 0 else 1
            for _ in range(deals):
                won_amount += self._deal(lead_id, None, segment, closed or created)
        self.leads.append(
            {
                "ID": str(lead_id),
                "TITLE": f"Заявка с сайта №{lead_id}",
                "STATUS_ID": status,
                "STATUS_SEMANTIC_ID": {"JUNK": "F", "CONVERTED": "S"}.get(status, "P"),
                "STATUS_DESCRIPTION": self._rng.choice(JUNK_REASONS) if is_junk else None,
                "SOURCE_ID": "WEB",
                "OPPORTUNITY": "0.00",
                "CURRENCY_ID": "RUB",
                "CONTACT_ID": None,
                "DATE_CREATE": wire_time(created),
                "DATE_MODIFY": wire_time(closed or moved),
                "DATE_CLOSED": wire_time(closed) if closed else "",
                "UTM_SOURCE": "yandex" if index % 3 else None,
                "UTM_MEDIUM": "cpc" if index % 3 else None,
                "UTM_CAMPAIGN": "70000001" if index % 3 else None,
                "UTM_CONTENT": None,
                "UTM_TERM": None,
                SEGMENT_FIELD: SEGMENT_LABELS[segment],
                "PHONE": phones,
            }
        )
        self.truth[f"bitrix24:{lead_id}"] = PortalLeadTruth(
            f"bitrix24:{lead_id}", segment, phone_kind, deals, won_amount, is_junk
        )

    def add_deal_without_lead(self, index: int) -> None:
        segment = self._segment()
        created = self._created_at()
        contact_id = len(self.contacts) + 1
        phone = self._fresh_phone()
        self.contacts.append(
            {
                "ID": str(contact_id),
                "NAME": f"Клиент {contact_id}",
                "DATE_CREATE": wire_time(created),
                "DATE_MODIFY": wire_time(created),
                "PHONE": [self._phone_value(phone, "WORK")],
            }
        )
        deal_id = len(self.deals) + 1
        won_amount = self._deal(None, contact_id, segment, created)
        self.truth[f"bitrix24:deal:{deal_id}"] = PortalLeadTruth(
            f"bitrix24:deal:{deal_id}", segment, "valid", 1, won_amount, False
        )

    def _deal(
        self, lead_id: int | None, contact_id: int | None, segment: Segment, created: datetime
    ) -> int:
        """Add a deal created at `created` walking the stages; return its won amount."""
        deal_id = len(self.deals) + 1
        amount = self._rng.randrange(*AMOUNT_RANGES[segment], 1000)
        reached = self._rng.randint(1, len(OPEN_DEAL_STAGES))
        outcome = self._rng.choice(("WON", "LOSE", "open"))
        moment = created
        self._history(self.deal_history, deal_id, moment, "NEW", 1)
        for stage in OPEN_DEAL_STAGES[1:reached]:
            moment += timedelta(days=self._rng.uniform(0.5, 6))
            self._history(self.deal_history, deal_id, moment, stage, 2)
        stage, closed = OPEN_DEAL_STAGES[reached - 1], None
        if outcome != "open":
            moment = closed = moment + timedelta(days=self._rng.uniform(0.5, 6))
            stage = outcome
            self._history(self.deal_history, deal_id, moment, stage, 3)
        self.deals.append(
            {
                "ID": str(deal_id),
                "TITLE": f"Сделка №{deal_id}",
                "LEAD_ID": str(lead_id) if lead_id else None,
                "CONTACT_ID": str(contact_id) if contact_id else "0",
                "CATEGORY_ID": "0",
                "STAGE_ID": stage,
                "STAGE_SEMANTIC_ID": {"WON": "S", "LOSE": "F"}.get(stage, "P"),
                "OPPORTUNITY": f"{amount}.00",
                "CURRENCY_ID": "RUB",
                "DATE_CREATE": wire_time(created),
                "DATE_MODIFY": wire_time(moment),
                "CLOSEDATE": wire_time(closed) if closed else "",
                "CLOSED": "Y" if closed else "N",
                "UTM_SOURCE": None,
                "UTM_MEDIUM": None,
                "UTM_CAMPAIGN": None,
                "UTM_CONTENT": None,
                "UTM_TERM": None,
                SEGMENT_FIELD: SEGMENT_LABELS[segment],
            }
        )
        return amount if stage == "WON" else 0

    def _history(
        self, history: list[Json], owner_id: int, moment: datetime, stage: str, type_id: int
    ) -> None:
        is_lead = history is self.lead_history
        semantic = {"JUNK": "F", "LOSE": "F", "CONVERTED": "S", "WON": "S"}.get(stage, "P")
        item: Json = {
            "ID": str(len(self.lead_history) + len(self.deal_history) + 1),
            "TYPE_ID": str(type_id),
            "OWNER_ID": str(owner_id),
            "CREATED_TIME": wire_time(moment),
        }
        if is_lead:
            item |= {"STATUS_ID": stage, "STATUS_SEMANTIC_ID": semantic}
        else:
            item |= {"CATEGORY_ID": "0", "STAGE_ID": stage, "STAGE_SEMANTIC_ID": semantic}
        history.append(item)

    def _segment(self) -> Segment:
        segments = list(SEGMENT_WEIGHTS)
        return self._rng.choices(segments, weights=list(SEGMENT_WEIGHTS.values()))[0]

    def _created_at(self) -> datetime:
        days = (LAST_DAY - FIRST_DAY).days - 10  # room for the journey before the snapshot
        day = FIRST_DAY + timedelta(days=self._rng.randrange(days))
        start = datetime.combine(day, datetime.min.time(), MOSCOW)
        return (start + timedelta(hours=self._rng.uniform(9, 20))).astimezone(UTC)

    def _phones(self, index: int) -> tuple[list[Json], str]:
        """Every 4th lead has two phones, every 5th an amoCRM lead's phone, every 9th a
        garbage one, every 11th none."""
        if index % 11 == 5:
            return [], "none"
        if index % 9 == 2:
            return [self._phone_value("нет", "WORK")], "garbage"
        if index % 5 == 0 and self._amocrm_phones:
            phone = self._amocrm_phones[index // 5 % len(self._amocrm_phones)]
            return [self._phone_value(phone, "MOBILE")], "duplicate"
        phones = [self._phone_value(self._fresh_phone(), "WORK")]
        if index % 4 == 0:
            phones.append(self._phone_value(self._fresh_phone(), "MOBILE"))
        return phones, "valid"

    def _phone_value(self, value: str, value_type: str) -> Json:
        self._last_phone_id += 2  # multi-field value ids, as the portal numbers them
        return {"ID": str(self._last_phone_id), "VALUE_TYPE": value_type, "VALUE": value,
                "TYPE_ID": "PHONE"}  # fmt: skip

    def _fresh_phone(self) -> str:
        while True:
            phone = f"+7916{self._rng.randrange(10**7):07d}"
            if phone not in self._used:
                self._used.add(phone)
                return phone
