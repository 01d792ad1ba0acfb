{{ config(
    materialized="incremental",
    unique_key="contact_id",
    incremental_strategy="delete+insert",
    on_schema_change="fail",
) }}

{%- set columns = [
    "contact_id", "created_at", "updated_at", "lifecycle_stage", "phone", "mobile_phone",
    "merged_object_ids", "archived", "archived_at", "properties",
    "_source", "_extracted_at", "_run_id",
] %}

{#- An archived version is listed after the last live one: it wins a tie on updated_at. -#}
{{ newest_versions(
    "hubspot", "contacts", columns, ["contact_id"],
    "updated_at desc nulls last, archived desc nulls last, _extracted_at desc"
) }}
