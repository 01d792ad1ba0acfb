{{ config(
    materialized="incremental",
    unique_key=["account", "date", "campaign_id"],
    incremental_strategy="delete+insert",
    on_schema_change="fail",
) }}

{#- A restated day replaces the earlier report of it: the newest extraction wins. -#}
{%- set columns = [
    "account", "date", "campaign_id", "campaign_name", "impressions", "clicks", "cost",
    "currency", "time_zone",
    "_source", "_extracted_at", "_run_id",
] %}

{{ newest_versions(
    "google_ads", "campaign_stats", columns, ["account", "date", "campaign_id"], "_extracted_at desc"
) }}
