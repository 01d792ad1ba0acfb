{#- Every ad platform's spend rows, cost converted into the reporting currency at the
    rate of the report date. A cost without a rate keeps spend NULL for the quality gate
    to flag. Google Ads and Meta add a conformed model and a `union all` here. -#}
with ad_spend as (
    select * from {{ ref("int_yandex_direct__ad_spend_conformed") }}
)

select
    platform,
    account,
    spend_date,
    campaign_id,
    campaign_name,
    impressions,
    clicks,
    cost,
    currency,
    time_zone,
    includes_vat,
    {{ convert_to_reporting_currency(
        "ad_spend.cost", "ad_spend.currency", "ad_spend.spend_date"
    ) }} as spend
from ad_spend
