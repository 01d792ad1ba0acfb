-- The spend of mart_unit_economics (detail rows) adds up, month by month and exactly, to
-- the staged ad spend of the platforms (int_ad_spend_converted: one row per staged report
-- row, in the reporting currency): allocation neither loses nor invents a micro-unit.
with mart as (
    select cohort_month, sum(spend) as spend
    from {{ ref("mart_unit_economics") }}
    where segment <> 'all' and channel <> 'all'
    group by cohort_month
),

staged as (
    select
        cast({{ dbt.date_trunc("month", "spend_date") }} as date) as cohort_month,
        sum(spend) as spend
    from {{ ref("int_ad_spend_converted") }}
    group by 1
)

select
    coalesce(mart.cohort_month, staged.cohort_month) as cohort_month,
    mart.spend as mart_spend,
    staged.spend as staged_spend
from mart
full outer join staged on mart.cohort_month = staged.cohort_month
where coalesce(mart.spend, 0) <> coalesce(staged.spend, 0)
