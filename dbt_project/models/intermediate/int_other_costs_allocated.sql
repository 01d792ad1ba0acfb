{#- Each row of the seed other_costs spread over segment × channel in proportion to the
    non-deleted leads of its month within its scope: the channel and/or segment it names,
    all leads when blank. A cost with no lead in scope goes to segment `no_leads` under
    the channel it names, else `unattributed`. Amounts are in the reporting currency. -#}
with costs as (
    select
        {{ dbt.concat([dbt.cast("month", dbt.type_string()), "'|'",
            "coalesce(channel, '')", "'|'", "coalesce(segment, '')", "'|'",
            "coalesce(cost_item, '')"]) }} as cost_key,
        cast({{ dbt.date_trunc("month", "month") }} as date) as cost_month,
        nullif(trim(channel), '') as scope_channel,
        nullif(trim(segment), '') as scope_segment,
        amount
    from {{ ref("other_costs") }}
),

cell_leads as (
    select cohort_month, segment, channel, count(*) as leads
    from {{ ref("int_leads_enriched") }}
    where not is_deleted
    group by 1, 2, 3
),

scoped_cells as (
    select
        costs.cost_key,
        cell_leads.segment,
        cell_leads.channel,
        cell_leads.leads,
        sum(cell_leads.leads) over (partition by costs.cost_key) as scope_leads
    from costs
    inner join cell_leads
        on costs.cost_month = cell_leads.cohort_month
        and (costs.scope_channel is null or costs.scope_channel = cell_leads.channel)
        and (costs.scope_segment is null or costs.scope_segment = cell_leads.segment)
)

select
    costs.cost_key,
    costs.cost_month as cohort_month,
    coalesce(scoped_cells.segment, 'no_leads') as segment,
    coalesce(scoped_cells.channel, costs.scope_channel, 'unattributed') as channel,
    case
        when scoped_cells.cost_key is null then cast(costs.amount as {{ type_double() }})
        else cast(costs.amount as {{ type_double() }})
            * scoped_cells.leads / scoped_cells.scope_leads
    end as other_costs
from costs
left join scoped_cells on costs.cost_key = scoped_cells.cost_key
