{#- Every ad platform's spend rows, cost converted into the reporting currency at the
    rate of the report date. A cost without a rate keeps spend NULL for the quality gate
    to flag. A new platform adds its conformed model (the canonical ad_spend shape of
    int_yandex_direct__ad_spend_conformed) to the list. A table: spend is read by the
    allocation, the spend reconciliation test and the quality gate, and a view would
    convert every row again for each of them. -#}
{{ config(materialized="table") }}

{%- set conformed_models = [
    "int_yandex_direct__ad_spend_conformed",
    "int_google_ads__ad_spend_conformed",
    "int_meta_ads__ad_spend_conformed",
] %}
{%- set columns = [
    "platform", "account", "spend_date", "campaign_id", "campaign_name", "impressions",
    "clicks", "cost", "currency", "time_zone", "includes_vat",
] %}

with ad_spend as (
    {%- for model in conformed_models %}
    select {{ columns | join(", ") }} from {{ ref(model) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

select
    {{ columns | join(",\n    ") }},
    {{ convert_to_reporting_currency(
        "ad_spend.cost", "ad_spend.currency", "ad_spend.spend_date"
    ) }} as spend
from ad_spend
