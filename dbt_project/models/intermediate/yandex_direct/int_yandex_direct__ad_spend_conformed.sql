{#- Yandex Direct report rows in the canonical ad_spend shape, cost in account currency. -#}
select
    'yandex_direct' as platform,
    account,
    date as spend_date,
    {{ dbt.cast("campaign_id", dbt.type_string()) }} as campaign_id,
    campaign_name,
    impressions,
    clicks,
    cost,
    currency,
    time_zone,
    includes_vat
from {{ ref("stg_yandex_direct__campaign_stats") }}
