-- Every roll-up row of mart_unit_economics equals the sum of the detail rows it covers,
-- exactly, for each additive metric (a roll-up never loses or double-counts a lead or a
-- cost); gross_profit is NULL in a roll-up exactly when one of its detail rows is.
{%- set additive = ["leads", "target_leads", "spend", "other_costs", "won_leads", "won_deals", "revenue"] %}
{%- set sums -%}
    {%- for metric in additive %}
        sum({{ metric }}) as {{ metric }},
    {%- endfor %}
        case when count(gross_profit) < count(*) then null else sum(gross_profit) end
            as gross_profit
{%- endset %}

with detail as (
    select * from {{ ref("mart_unit_economics") }}
    where segment <> 'all' and channel <> 'all'
),

expected as (
    select cohort_month, segment, 'all' as channel, {{ sums }}
    from detail group by cohort_month, segment
    union all
    select cohort_month, 'all' as segment, channel, {{ sums }}
    from detail group by cohort_month, channel
    union all
    select cohort_month, 'all' as segment, 'all' as channel, {{ sums }}
    from detail group by cohort_month
)

select expected.*
from expected
left join {{ ref("mart_unit_economics") }} as mart
    on expected.cohort_month = mart.cohort_month
    and expected.segment = mart.segment
    and expected.channel = mart.channel
where mart.cohort_month is null
    {%- for metric in additive + ["gross_profit"] %}
    or expected.{{ metric }} is distinct from mart.{{ metric }}
    {%- endfor %}
