{#- Meta Ads report rows in the canonical ad_spend shape, cost in ad account currency.
    Meta reports spend before tax and has no VAT switch: includes_vat is false. -#}
select
    'meta_ads' as platform,
    account,
    date as spend_date,
    campaign_id,
    campaign_name,
    impressions,
    clicks,
    cost,
    currency,
    time_zone,
    false as includes_vat
from {{ ref("stg_meta_ads__campaign_stats") }}
