{#- Status ids repeat across dictionaries (NEW is a lead status and a deal stage): the key
    is the pair (entity_id, status_id). -#}
{%- set columns = [
    "entity_id", "status_id", "name", "sort", "category_id", "semantics",
    "_source", "_extracted_at", "_run_id",
] %}

{{ newest_versions(
    "bitrix24", "statuses", columns, ["entity_id", "status_id"], "_extracted_at desc"
) }}
