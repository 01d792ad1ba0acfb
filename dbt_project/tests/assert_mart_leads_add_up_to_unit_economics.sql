-- The single leads of mart_leads add up, cell by cell, to the detail rows of
-- mart_unit_economics that have leads: leads, target leads, won leads and revenue.
with from_leads as (
    select
        cohort_month,
        segment,
        channel,
        count(*) as leads,
        sum(case when is_target then 1 else 0 end) as target_leads,
        sum(case when status = 'won' then 1 else 0 end) as won_leads,
        sum(revenue) as revenue
    from {{ ref("mart_leads") }}
    group by cohort_month, segment, channel
),

from_unit_economics as (
    select cohort_month, segment, channel, leads, target_leads, won_leads, revenue
    from {{ ref("mart_unit_economics") }}
    where segment <> 'all' and channel <> 'all' and leads > 0
)

select
    coalesce(from_leads.cohort_month, from_unit_economics.cohort_month) as cohort_month,
    coalesce(from_leads.segment, from_unit_economics.segment) as segment,
    coalesce(from_leads.channel, from_unit_economics.channel) as channel
from from_leads
full outer join from_unit_economics
    on from_leads.cohort_month = from_unit_economics.cohort_month
    and from_leads.segment = from_unit_economics.segment
    and from_leads.channel = from_unit_economics.channel
where from_leads.leads is distinct from from_unit_economics.leads
    or from_leads.target_leads is distinct from from_unit_economics.target_leads
    or from_leads.won_leads is distinct from from_unit_economics.won_leads
    or from_leads.revenue is distinct from from_unit_economics.revenue
