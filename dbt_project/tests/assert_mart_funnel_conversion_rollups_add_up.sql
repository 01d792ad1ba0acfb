-- Every roll-up row of mart_funnel_conversion counts exactly the leads of the detail rows
-- it covers, stage by stage.
with detail as (
    select * from {{ ref("mart_funnel_conversion") }}
    where segment <> 'all' and channel <> 'all'
),

expected as (
    select cohort_month, segment, 'all' as channel, funnel_stage, sum(entered) as entered
    from detail group by cohort_month, segment, funnel_stage
    union all
    select cohort_month, 'all' as segment, channel, funnel_stage, sum(entered) as entered
    from detail group by cohort_month, channel, funnel_stage
    union all
    select cohort_month, 'all' as segment, 'all' as channel, funnel_stage, sum(entered) as entered
    from detail group by cohort_month, funnel_stage
)

select expected.*, mart.entered as mart_entered
from expected
left join {{ ref("mart_funnel_conversion") }} as mart
    on expected.cohort_month = mart.cohort_month
    and expected.segment = mart.segment
    and expected.channel = mart.channel
    and expected.funnel_stage = mart.funnel_stage
where mart.entered is distinct from expected.entered
