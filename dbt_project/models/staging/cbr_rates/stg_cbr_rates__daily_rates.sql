{{ config(
    materialized="incremental",
    unique_key=["rate_date", "currency"],
    incremental_strategy="delete+insert",
    on_schema_change="fail",
) }}

{#- Every night asks for a few days again, so one publication lands many times: the newest
    extraction wins (then the latest day asked for, so the pick never depends on file
    order). -#}
{%- set columns = [
    "rate_date", "requested_date", "currency", "num_code", "cbr_id", "nominal", "value", "name",
    "_source", "_extracted_at", "_run_id",
] %}

{{ newest_versions(
    "cbr_rates", "daily_rates", columns, ["rate_date", "currency"],
    "_extracted_at desc, requested_date desc"
) }}
