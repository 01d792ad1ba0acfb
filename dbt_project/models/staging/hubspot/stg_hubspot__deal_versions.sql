{{ config(
    materialized="incremental",
    unique_key="deal_id",
    incremental_strategy="delete+insert",
    on_schema_change="fail",
) }}

{%- set columns = [
    "deal_id", "pipeline_id", "stage_id", "amount", "currency", "created_at", "updated_at",
    "closed_at", "is_closed", "is_closed_won", "archived", "archived_at", "properties",
    "_source", "_extracted_at", "_run_id",
] %}

{#- An archived version is listed after the last live one: it wins a tie on updated_at. -#}
{{ newest_versions(
    "hubspot", "deals", columns, ["deal_id"],
    "updated_at desc nulls last, archived desc nulls last, _extracted_at desc"
) }}
