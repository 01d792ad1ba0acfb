{#- Bitrix24 deals in the canonical deal shape, plus one lost deal for each junk lead that
    has no deal (METRICS.md: it counts as lost at the first stage, its status description
    as the loss reason; it has no stage event, so it drops off at the first stage).
    A deal is won or lost by its stage semantics (S, F); it closed when it last entered
    its final stage (stage history), else at its CLOSEDATE. Bitrix24 deals carry no loss
    reason of their own. -#}
with deals as (
    select * from {{ ref("stg_bitrix24__deals") }}
),

leads as (
    select * from {{ ref("stg_bitrix24__leads") }}
),

final_stage_entries as (
    select owner_id as deal_id, max(created_time) as entered_at
    from {{ ref("stg_bitrix24__stage_history") }}
    where entity_type_id = 2 and stage_semantic_id in ('S', 'F')
    group by owner_id
),

crm_deals as (
    select
        {{ dbt.concat(["'bitrix24:'", dbt.cast("deals.deal_id", dbt.type_string())]) }}
            as deal_id,
        deal_leads.lead_id,
        'bitrix24' as source,
        {{ dbt.cast("coalesce(deals.category_id, 0)", dbt.type_string()) }} as pipeline_id,
        deals.stage_id as status_id,
        case deals.stage_semantic_id
            when 'S' then 'won'
            when 'F' then 'lost'
            else 'open'
        end as status,
        deals.opportunity as amount,
        coalesce(deals.currency_id, '{{ var("crm_currencies")["bitrix24"] }}') as currency,
        deals.date_create as created_at,
        case
            when deals.stage_semantic_id in ('S', 'F')
                then coalesce(final_stage_entries.entered_at, deals.closedate)
        end as closed_at,
        cast(null as varchar) as loss_reason,
        deals.is_deleted
    from deals
    inner join {{ ref("int_bitrix24__deal_leads") }} as deal_leads
        on deals.deal_id = deal_leads.deal_id
    left join final_stage_entries on deals.deal_id = final_stage_entries.deal_id
),

junk_leads_without_deal as (
    select
        {{ dbt.concat(["'bitrix24:junk:'", dbt.cast("leads.lead_id", dbt.type_string())]) }}
            as deal_id,
        {{ dbt.concat(["'bitrix24:'", dbt.cast("leads.lead_id", dbt.type_string())]) }}
            as lead_id,
        'bitrix24' as source,
        cast(null as varchar) as pipeline_id,
        leads.status_id,
        'lost' as status,
        cast(null as decimal(18, 2)) as amount,
        coalesce(leads.currency_id, '{{ var("crm_currencies")["bitrix24"] }}') as currency,
        leads.date_create as created_at,
        coalesce(leads.date_closed, leads.date_modify) as closed_at,
        leads.status_description as loss_reason,
        leads.is_deleted
    from leads
    where leads.status_id = 'JUNK'
        and not exists (select 1 from deals where deals.lead_id = leads.lead_id)
)

select * from crm_deals
union all
select * from junk_leads_without_deal
