{{ config(
    materialized="incremental",
    unique_key="contact_id",
    incremental_strategy="delete+insert",
    on_schema_change="fail",
) }}

{%- set columns = [
    "contact_id", "created_at", "updated_at", "is_deleted", "phones",
    "_source", "_extracted_at", "_run_id",
] %}

{{ newest_versions(
    "amocrm", "contacts", columns, ["contact_id"], "updated_at desc nulls last, _extracted_at desc"
) }}
