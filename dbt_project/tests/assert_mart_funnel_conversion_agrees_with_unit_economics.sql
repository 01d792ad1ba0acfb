-- Every cell of mart_unit_economics with leads, roll-ups included, has a funnel whose
-- first stage is entered by all its leads and whose last stage (won) by its won leads;
-- the funnel has no cell without leads.
{%- set funnel_bounds = "(select min(stage_order) as first_order, max(stage_order) as won_order from "
    ~ ref("funnel_stages") ~ ")" %}

with funnel_ends as (
    select
        funnel.cohort_month,
        funnel.segment,
        funnel.channel,
        sum(case when funnel.stage_order = bounds.first_order then funnel.entered end)
            as entered_first,
        sum(case when funnel.stage_order = bounds.won_order then funnel.entered end)
            as entered_won
    from {{ ref("mart_funnel_conversion") }} as funnel
    cross join {{ funnel_bounds }} as bounds
    group by funnel.cohort_month, funnel.segment, funnel.channel
),

unit_economics as (
    select cohort_month, segment, channel, leads, won_leads
    from {{ ref("mart_unit_economics") }}
    where leads > 0
)

select
    coalesce(funnel_ends.cohort_month, unit_economics.cohort_month) as cohort_month,
    coalesce(funnel_ends.segment, unit_economics.segment) as segment,
    coalesce(funnel_ends.channel, unit_economics.channel) as channel
from funnel_ends
full outer join unit_economics
    on funnel_ends.cohort_month = unit_economics.cohort_month
    and funnel_ends.segment = unit_economics.segment
    and funnel_ends.channel = unit_economics.channel
where funnel_ends.entered_first is distinct from unit_economics.leads
    or funnel_ends.entered_won is distinct from unit_economics.won_leads
