{{ config(
    materialized="incremental",
    unique_key="contact_id",
    incremental_strategy="delete+insert",
    on_schema_change="fail",
) }}

{%- set columns = [
    "contact_id", "date_create", "date_modify", "phones", "_source", "_extracted_at", "_run_id",
] %}

{{ newest_versions(
    "bitrix24", "contacts", columns, ["contact_id"],
    "date_modify desc nulls last, _extracted_at desc"
) }}
