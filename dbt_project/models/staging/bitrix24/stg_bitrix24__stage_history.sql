{#- Stage history items never change once written: one row per (entity type, item id). -#}
{%- set columns = [
    "entity_type_id", "history_id", "type_id", "owner_id", "created_time", "category_id",
    "stage_id", "stage_semantic_id", "_source", "_extracted_at", "_run_id",
] %}

{{ newest_versions(
    "bitrix24", "stage_history", columns, ["entity_type_id", "history_id"], "_extracted_at desc"
) }}
