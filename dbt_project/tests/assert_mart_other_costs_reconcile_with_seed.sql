-- The other_costs of mart_unit_economics (detail rows) add up, month by month and exactly,
-- to the seed other_costs.
with mart as (
    select cohort_month, sum(other_costs) as other_costs
    from {{ ref("mart_unit_economics") }}
    where segment <> 'all' and channel <> 'all'
    group by cohort_month
),

seeded as (
    select cast({{ dbt.date_trunc("month", "month") }} as date) as cohort_month, sum(amount) as other_costs
    from {{ ref("other_costs") }}
    group by 1
)

select
    coalesce(mart.cohort_month, seeded.cohort_month) as cohort_month,
    mart.other_costs as mart_other_costs,
    seeded.other_costs as seeded_other_costs
from mart
full outer join seeded on mart.cohort_month = seeded.cohort_month
where coalesce(mart.other_costs, 0) <> coalesce(seeded.other_costs, 0)
