"""Arrow schemas of the raw landing files: the contract between extract/ and dbt staging.

Every entity's file has its parsed columns followed by the load metadata columns
(`_source`, `_extracted_at`, `_run_id`, `_payload`). Timestamps are UTC.
"""

import pyarrow as pa

UTC_TS = pa.timestamp("us", tz="UTC")

LOAD_METADATA = [
    pa.field("_source", pa.string(), nullable=False),
    pa.field("_extracted_at", UTC_TS, nullable=False),
    pa.field("_run_id", pa.string(), nullable=False),
    pa.field("_payload", pa.string(), nullable=False),
]


def _schema(*fields: pa.Field) -> pa.Schema:
    return pa.schema([*fields, *LOAD_METADATA])


AMOCRM_CUSTOM_FIELD = pa.struct(
    [
        ("field_id", pa.int64()),
        ("field_code", pa.string()),
        ("field_name", pa.string()),
        ("values", pa.list_(pa.string())),
    ]
)
AMOCRM_LEAD_CONTACT = pa.struct([("contact_id", pa.int64()), ("is_main", pa.bool_())])
AMOCRM_PHONE = pa.struct([("value", pa.string()), ("enum_code", pa.string())])
BITRIX24_PHONE = pa.struct([("value", pa.string()), ("value_type", pa.string())])
# User fields (UF_CRM_*) as text, whatever their type: the seed crm_fields picks them by code.
BITRIX24_USER_FIELD = pa.struct([("field_code", pa.string()), ("value", pa.string())])
BITRIX24_MONEY = pa.decimal128(18, 2)
BITRIX24_UTM = [
    pa.field("utm_source", pa.string()),
    pa.field("utm_medium", pa.string()),
    pa.field("utm_campaign", pa.string()),
    pa.field("utm_content", pa.string()),
    pa.field("utm_term", pa.string()),
]

# HubSpot properties picked by configuration (UTM tags), as text: the seed crm_fields maps them.
HUBSPOT_PROPERTY = pa.struct([("name", pa.string()), ("value", pa.string())])
HUBSPOT_MONEY = pa.decimal128(18, 2)
HUBSPOT_ARCHIVAL = [
    pa.field("archived", pa.bool_()),
    pa.field("archived_at", UTC_TS),
]

SCHEMAS: dict[tuple[str, str], pa.Schema] = {
    ("amocrm", "leads"): _schema(
        pa.field("lead_id", pa.int64(), nullable=False),
        pa.field("price", pa.int64()),
        pa.field("pipeline_id", pa.int64()),
        pa.field("status_id", pa.int64()),
        pa.field("loss_reason_id", pa.int64()),
        pa.field("created_at", UTC_TS),
        pa.field("updated_at", UTC_TS),
        pa.field("closed_at", UTC_TS),
        pa.field("is_deleted", pa.bool_()),
        pa.field("contacts", pa.list_(AMOCRM_LEAD_CONTACT)),
        pa.field("custom_fields", pa.list_(AMOCRM_CUSTOM_FIELD)),
    ),
    ("amocrm", "contacts"): _schema(
        pa.field("contact_id", pa.int64(), nullable=False),
        pa.field("created_at", UTC_TS),
        pa.field("updated_at", UTC_TS),
        pa.field("is_deleted", pa.bool_()),
        pa.field("phones", pa.list_(AMOCRM_PHONE)),
    ),
    ("amocrm", "status_changes"): _schema(
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("lead_id", pa.int64(), nullable=False),
        pa.field("created_at", UTC_TS),
        pa.field("pipeline_id_before", pa.int64()),
        pa.field("status_id_before", pa.int64()),
        pa.field("pipeline_id_after", pa.int64()),
        pa.field("status_id_after", pa.int64()),
    ),
    ("amocrm", "statuses"): _schema(
        pa.field("pipeline_id", pa.int64(), nullable=False),
        pa.field("pipeline_name", pa.string()),
        pa.field("pipeline_sort", pa.int64()),
        pa.field("status_id", pa.int64(), nullable=False),
        pa.field("status_name", pa.string()),
        pa.field("status_sort", pa.int64()),
        pa.field("status_type", pa.int64()),
    ),
    # The id sweep: one file per sweep, every lead the account listed then. `_payload`
    # holds the id alone, `_extracted_at` the moment the listing began.
    ("amocrm", "lead_ids"): _schema(
        pa.field("lead_id", pa.int64(), nullable=False),
    ),
    ("amocrm", "loss_reasons"): _schema(
        pa.field("loss_reason_id", pa.int64(), nullable=False),
        pa.field("name", pa.string()),
        pa.field("sort", pa.int64()),
        pa.field("updated_at", UTC_TS),
    ),
    ("bitrix24", "leads"): _schema(
        pa.field("lead_id", pa.int64(), nullable=False),
        pa.field("status_id", pa.string()),
        pa.field("status_semantic_id", pa.string()),
        pa.field("status_description", pa.string()),
        pa.field("source_id", pa.string()),
        pa.field("opportunity", BITRIX24_MONEY),
        pa.field("currency_id", pa.string()),
        pa.field("contact_id", pa.int64()),
        pa.field("date_create", UTC_TS),
        pa.field("date_modify", UTC_TS),
        pa.field("date_closed", UTC_TS),
        *BITRIX24_UTM,
        pa.field("phones", pa.list_(BITRIX24_PHONE)),
        pa.field("user_fields", pa.list_(BITRIX24_USER_FIELD)),
    ),
    ("bitrix24", "deals"): _schema(
        pa.field("deal_id", pa.int64(), nullable=False),
        pa.field("lead_id", pa.int64()),
        pa.field("contact_id", pa.int64()),
        pa.field("category_id", pa.int64()),
        pa.field("stage_id", pa.string()),
        pa.field("stage_semantic_id", pa.string()),
        pa.field("opportunity", BITRIX24_MONEY),
        pa.field("currency_id", pa.string()),
        pa.field("date_create", UTC_TS),
        pa.field("date_modify", UTC_TS),
        pa.field("closedate", UTC_TS),
        pa.field("closed", pa.bool_()),
        *BITRIX24_UTM,
        pa.field("user_fields", pa.list_(BITRIX24_USER_FIELD)),
    ),
    ("bitrix24", "contacts"): _schema(
        pa.field("contact_id", pa.int64(), nullable=False),
        pa.field("date_create", UTC_TS),
        pa.field("date_modify", UTC_TS),
        pa.field("phones", pa.list_(BITRIX24_PHONE)),
    ),
    # crm.status.list: lead statuses (entity STATUS), deal stages (DEAL_STAGE,
    # DEAL_STAGE_<category>) and the other dictionaries, keyed on (entity_id, status_id).
    ("bitrix24", "statuses"): _schema(
        pa.field("entity_id", pa.string(), nullable=False),
        pa.field("status_id", pa.string(), nullable=False),
        pa.field("name", pa.string()),
        pa.field("sort", pa.int64()),
        pa.field("category_id", pa.int64()),
        pa.field("semantics", pa.string()),
    ),
    # crm.stagehistory.list of leads (entity_type_id 1) and deals (2); `stage_id` is the
    # lead's STATUS_ID or the deal's STAGE_ID.
    ("bitrix24", "stage_history"): _schema(
        pa.field("entity_type_id", pa.int64(), nullable=False),
        pa.field("history_id", pa.int64(), nullable=False),
        pa.field("type_id", pa.int64()),
        pa.field("owner_id", pa.int64(), nullable=False),
        pa.field("created_time", UTC_TS),
        pa.field("category_id", pa.int64()),
        pa.field("stage_id", pa.string()),
        pa.field("stage_semantic_id", pa.string()),
    ),
    # The id sweeps (Bitrix24 lists no deleted record): as amocrm lead_ids.
    ("bitrix24", "lead_ids"): _schema(pa.field("lead_id", pa.int64(), nullable=False)),
    ("bitrix24", "deal_ids"): _schema(pa.field("deal_id", pa.int64(), nullable=False)),
    ("hubspot", "contacts"): _schema(
        pa.field("contact_id", pa.int64(), nullable=False),
        pa.field("created_at", UTC_TS),
        pa.field("updated_at", UTC_TS),
        pa.field("lifecycle_stage", pa.string()),
        pa.field("phone", pa.string()),
        pa.field("mobile_phone", pa.string()),
        # hs_merged_object_ids: contacts merged into this one, gone from every listing.
        pa.field("merged_object_ids", pa.list_(pa.int64())),
        *HUBSPOT_ARCHIVAL,
        pa.field("properties", pa.list_(HUBSPOT_PROPERTY)),
    ),
    ("hubspot", "deals"): _schema(
        pa.field("deal_id", pa.int64(), nullable=False),
        pa.field("pipeline_id", pa.string()),
        pa.field("stage_id", pa.string()),
        pa.field("amount", HUBSPOT_MONEY),
        pa.field("currency", pa.string()),
        pa.field("created_at", UTC_TS),
        pa.field("updated_at", UTC_TS),
        pa.field("closed_at", UTC_TS),
        pa.field("is_closed", pa.bool_()),
        pa.field("is_closed_won", pa.bool_()),
        *HUBSPOT_ARCHIVAL,
        pa.field("properties", pa.list_(HUBSPOT_PROPERTY)),
    ),
    # v4 associations of the deals landed in the same load.
    ("hubspot", "deal_contacts"): _schema(
        pa.field("deal_id", pa.int64(), nullable=False),
        pa.field("contact_id", pa.int64(), nullable=False),
    ),
    # GET /crm/v3/pipelines/deals, one row per stage; stage ids are strings.
    ("hubspot", "stages"): _schema(
        pa.field("pipeline_id", pa.string(), nullable=False),
        pa.field("pipeline_label", pa.string()),
        pa.field("pipeline_order", pa.int64()),
        pa.field("stage_id", pa.string(), nullable=False),
        pa.field("stage_label", pa.string()),
        pa.field("stage_order", pa.int64()),
        pa.field("is_closed", pa.bool_()),
        pa.field("probability", pa.string()),
    ),
    # propertiesWithHistory=dealstage of the deals landed in the same load.
    ("hubspot", "stage_history"): _schema(
        pa.field("deal_id", pa.int64(), nullable=False),
        pa.field("stage_id", pa.string()),
        pa.field("changed_at", UTC_TS, nullable=False),
        pa.field("source_type", pa.string()),
    ),
    ("hubspot", "contact_ids"): _schema(pa.field("contact_id", pa.int64(), nullable=False)),
    ("hubspot", "deal_ids"): _schema(pa.field("deal_id", pa.int64(), nullable=False)),
    ("yandex_direct", "campaign_stats"): _schema(
        pa.field("account", pa.string(), nullable=False),
        pa.field("date", pa.date32(), nullable=False),
        pa.field("campaign_id", pa.int64(), nullable=False),
        pa.field("campaign_name", pa.string()),
        pa.field("impressions", pa.int64()),
        pa.field("clicks", pa.int64()),
        pa.field("cost", pa.decimal128(18, 6)),
        pa.field("currency", pa.string(), nullable=False),
        pa.field("time_zone", pa.string(), nullable=False),
        pa.field("includes_vat", pa.bool_(), nullable=False),
    ),
    # googleAds:searchStream, campaign x day; customer currency and time zone from the API.
    ("google_ads", "campaign_stats"): _schema(
        pa.field("account", pa.string(), nullable=False),  # customer id, digits only
        pa.field("date", pa.date32(), nullable=False),
        pa.field("campaign_id", pa.int64(), nullable=False),
        pa.field("campaign_name", pa.string()),
        pa.field("impressions", pa.int64()),
        pa.field("clicks", pa.int64()),
        pa.field("cost", pa.decimal128(18, 6)),  # costMicros / 1,000,000
        pa.field("currency", pa.string(), nullable=False),
        pa.field("time_zone", pa.string(), nullable=False),
    ),
    # Insights at level=campaign, time_increment=1; account currency and time zone from
    # the ad account. Graph ids are strings: campaign_id stays text.
    ("meta_ads", "campaign_stats"): _schema(
        pa.field("account", pa.string(), nullable=False),  # ad account id without act_
        pa.field("date", pa.date32(), nullable=False),
        pa.field("campaign_id", pa.string(), nullable=False),
        pa.field("campaign_name", pa.string()),
        pa.field("impressions", pa.int64()),
        pa.field("clicks", pa.int64()),
        pa.field("cost", pa.decimal128(18, 6)),  # spend
        pa.field("currency", pa.string(), nullable=False),
        pa.field("time_zone", pa.string(), nullable=False),
    ),
    # XML_daily.asp, one row per currency of one publication: `rate_date` is the document's
    # own date (the last publication on or before the day asked for), `value` roubles per
    # `nominal` units.
    ("cbr_rates", "daily_rates"): _schema(
        pa.field("rate_date", pa.date32(), nullable=False),
        pa.field("requested_date", pa.date32(), nullable=False),
        pa.field("currency", pa.string(), nullable=False),  # CharCode
        pa.field("num_code", pa.string()),
        pa.field("cbr_id", pa.string()),  # the Valute ID attribute
        pa.field("nominal", pa.int64(), nullable=False),
        pa.field("value", pa.decimal128(18, 6), nullable=False),
        pa.field("name", pa.string()),
    ),
}

QUARANTINE = pa.schema(
    [
        pa.field("entity", pa.string(), nullable=False),
        pa.field("record_id", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        *LOAD_METADATA,
    ]
)
