{%- set columns = [
    "pipeline_id", "pipeline_label", "pipeline_order", "stage_id", "stage_label",
    "stage_order", "is_closed", "probability", "_source", "_extracted_at", "_run_id",
] %}

{{ newest_versions(
    "hubspot", "stages", columns, ["pipeline_id", "stage_id"], "_extracted_at desc"
) }}
