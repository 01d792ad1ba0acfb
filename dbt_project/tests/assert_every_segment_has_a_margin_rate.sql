{{ config(severity="warn") }}
-- Data-quality warning: a segment with revenue that has neither its own row in the seed
-- margin_rates nor a `default` row, so its gross_profit (and ROMI, ROI) is NULL.
select distinct mart.segment
from {{ ref("mart_unit_economics") }} as mart
where mart.segment <> 'all'
    and mart.revenue <> 0
    and not exists (
        select 1
        from {{ ref("margin_rates") }} as rates
        where rates.segment in (mart.segment, 'default')
    )
