{{ config(
    materialized="incremental",
    unique_key="deal_id",
    incremental_strategy="delete+insert",
    on_schema_change="fail",
) }}

{%- set columns = [
    "deal_id", "lead_id", "contact_id", "category_id", "stage_id", "stage_semantic_id",
    "opportunity", "currency_id", "date_create", "date_modify", "closedate", "closed",
    "utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term", "user_fields",
    "_source", "_extracted_at", "_run_id",
] %}

{{ newest_versions(
    "bitrix24", "deals", columns, ["deal_id"], "date_modify desc nulls last, _extracted_at desc"
) }}
