{#- Stage history entries never change once written: one row per (deal, stage, moment). -#}
{%- set columns = [
    "deal_id", "stage_id", "changed_at", "source_type", "_source", "_extracted_at", "_run_id",
] %}

{{ newest_versions(
    "hubspot", "stage_history", columns, ["deal_id", "stage_id", "changed_at"],
    "_extracted_at desc"
) }}
