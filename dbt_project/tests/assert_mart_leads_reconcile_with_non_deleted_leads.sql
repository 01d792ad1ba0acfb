-- mart_unit_economics counts every non-deleted lead once: per cohort month against
-- int_leads_enriched, and in total against the canonical leads of every CRM.
with mart as (
    select cohort_month, sum(leads) as leads
    from {{ ref("mart_unit_economics") }}
    where segment <> 'all' and channel <> 'all'
    group by cohort_month
),

enriched as (
    select cohort_month, count(*) as leads
    from {{ ref("int_leads_enriched") }}
    where not is_deleted
    group by cohort_month
),

by_month as (
    select
        coalesce(mart.cohort_month, enriched.cohort_month) as cohort_month,
        mart.leads as mart_leads,
        enriched.leads as expected_leads
    from mart
    full outer join enriched on mart.cohort_month = enriched.cohort_month
),

total as (
    select
        cast(null as date) as cohort_month,
        (select sum(leads) from mart) as mart_leads,
        (select count(*) from {{ ref("int_leads_conformed") }} where not is_deleted)
            as expected_leads
)

select * from by_month where coalesce(mart_leads, 0) <> coalesce(expected_leads, 0)
union all
select * from total where coalesce(mart_leads, 0) <> expected_leads
