{{ config(
    materialized="incremental",
    unique_key="event_id",
    incremental_strategy="delete+insert",
    on_schema_change="fail",
) }}

{#- An event never changes; a re-landed copy only replaces it by the newer extraction. -#}
{%- set columns = [
    "event_id", "lead_id", "created_at", "pipeline_id_before", "status_id_before",
    "pipeline_id_after", "status_id_after",
    "_source", "_extracted_at", "_run_id",
] %}

{{ newest_versions("amocrm", "status_changes", columns, ["event_id"], "_extracted_at desc") }}
