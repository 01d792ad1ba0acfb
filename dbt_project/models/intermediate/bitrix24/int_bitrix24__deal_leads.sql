{#- The canonical lead of every Bitrix24 deal (METRICS.md, "What a lead is"): the lead of
    its LEAD_ID when that lead is staged, else a lead of its own made from the deal
    (`bitrix24:deal:<id>`), so that no deal's revenue is lost. A LEAD_ID whose lead never
    landed (created before the source's start date) counts as none. -#}
select
    deals.deal_id,
    case
        when leads.lead_id is not null
            then {{ dbt.concat(["'bitrix24:'", dbt.cast("leads.lead_id", dbt.type_string())]) }}
        else {{ dbt.concat(["'bitrix24:deal:'", dbt.cast("deals.deal_id", dbt.type_string())]) }}
    end as lead_id,
    leads.lead_id is null as is_lead_made_from_deal
from {{ ref("stg_bitrix24__deals") }} as deals
left join {{ ref("stg_bitrix24__leads") }} as leads on deals.lead_id = leads.lead_id
