-- The revenue of mart_unit_economics (detail rows) is, per cohort month and exactly, the
-- sum of the converted amounts of the won, non-deleted deals of non-deleted leads.
with mart as (
    select cohort_month, sum(revenue) as revenue
    from {{ ref("mart_unit_economics") }}
    where segment <> 'all' and channel <> 'all'
    group by cohort_month
),

won as (
    select leads.cohort_month, sum(deals.amount_reporting) as revenue
    from {{ ref("int_deals_converted") }} as deals
    inner join {{ ref("int_leads_enriched") }} as leads
        on deals.lead_id = leads.lead_id
    where deals.status = 'won'
        and not deals.is_deleted
        and not leads.is_deleted
    group by leads.cohort_month
)

select
    coalesce(mart.cohort_month, won.cohort_month) as cohort_month,
    mart.revenue as mart_revenue,
    won.revenue as won_revenue
from mart
full outer join won on mart.cohort_month = won.cohort_month
where coalesce(mart.revenue, 0) <> coalesce(won.revenue, 0)
