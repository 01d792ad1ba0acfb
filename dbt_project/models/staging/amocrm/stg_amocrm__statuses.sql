{#- Status ids repeat across pipelines (142/143 are in every one): the key is the pair. -#}
{%- set columns = [
    "pipeline_id", "pipeline_name", "pipeline_sort", "status_id", "status_name",
    "status_sort", "status_type",
    "_source", "_extracted_at", "_run_id",
] %}

{{ newest_versions(
    "amocrm", "statuses", columns, ["pipeline_id", "status_id"], "_extracted_at desc"
) }}
