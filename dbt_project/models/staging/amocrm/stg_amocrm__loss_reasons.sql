{%- set columns = [
    "loss_reason_id", "name", "sort", "updated_at",
    "_source", "_extracted_at", "_run_id",
] %}

{{ newest_versions(
    "amocrm", "loss_reasons", columns, ["loss_reason_id"], "updated_at desc nulls last, _extracted_at desc"
) }}
