-- mart_dropoffs counts every lost, non-deleted deal of a non-deleted lead once, per cohort
-- month.
with mart as (
    select cohort_month, sum(lost_deals) as lost_deals
    from {{ ref("mart_dropoffs") }}
    group by cohort_month
),

lost as (
    select leads.cohort_month, count(*) as lost_deals
    from {{ ref("int_deals_converted") }} as deals
    inner join {{ ref("int_leads_enriched") }} as leads
        on deals.lead_id = leads.lead_id
    where deals.status = 'lost'
        and not deals.is_deleted
        and not leads.is_deleted
    group by leads.cohort_month
)

select
    coalesce(mart.cohort_month, lost.cohort_month) as cohort_month,
    mart.lost_deals as mart_lost_deals,
    lost.lost_deals as expected_lost_deals
from mart
full outer join lost on mart.cohort_month = lost.cohort_month
where mart.lost_deals is distinct from lost.lost_deals
