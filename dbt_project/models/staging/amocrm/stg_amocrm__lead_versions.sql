{{ config(
    materialized="incremental",
    unique_key="lead_id",
    incremental_strategy="delete+insert",
    on_schema_change="fail",
) }}

{%- set columns = [
    "lead_id", "price", "pipeline_id", "status_id", "loss_reason_id", "created_at",
    "updated_at", "closed_at", "is_deleted", "contacts", "custom_fields",
    "_source", "_extracted_at", "_run_id",
] %}

{{ newest_versions(
    "amocrm", "leads", columns, ["lead_id"], "updated_at desc nulls last, _extracted_at desc"
) }}
