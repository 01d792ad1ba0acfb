{#- Google Ads report rows in the canonical ad_spend shape, cost in customer currency.
    Google reports costs before tax and has no VAT switch: includes_vat is false. -#}
select
    'google_ads' as platform,
    account,
    date as spend_date,
    {{ dbt.cast("campaign_id", dbt.type_string()) }} as campaign_id,
    campaign_name,
    impressions,
    clicks,
    cost,
    currency,
    time_zone,
    false as includes_vat
from {{ ref("stg_google_ads__campaign_stats") }}
