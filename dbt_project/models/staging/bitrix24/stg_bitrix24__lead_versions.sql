{{ config(
    materialized="incremental",
    unique_key="lead_id",
    incremental_strategy="delete+insert",
    on_schema_change="fail",
) }}

{%- set columns = [
    "lead_id", "status_id", "status_semantic_id", "status_description", "source_id",
    "opportunity", "currency_id", "contact_id", "date_create", "date_modify", "date_closed",
    "utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term", "phones",
    "user_fields", "_source", "_extracted_at", "_run_id",
] %}

{{ newest_versions(
    "bitrix24", "leads", columns, ["lead_id"], "date_modify desc nulls last, _extracted_at desc"
) }}
