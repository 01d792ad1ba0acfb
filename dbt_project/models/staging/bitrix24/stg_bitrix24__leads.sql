{{ config(materialized="table") }}

{#- The newest version of every lead (stg_bitrix24__lead_versions) with is_deleted:
    Bitrix24 lists no deleted record, so a lead the latest id sweep does not list counts
    as deleted when its version landed before that sweep began (a version landed later is
    not judged by it). Without any sweep, no lead is deleted. -#}
with versions as (
    select * from {{ ref("stg_bitrix24__lead_versions") }}
),

sweeps as (
    select lead_id, _extracted_at as swept_at
    from {{ landed_source("bitrix24", "lead_ids") }}
),

latest_sweep as (
    select max(swept_at) as swept_at from sweeps
),

listed as (
    select distinct sweeps.lead_id
    from sweeps
    inner join latest_sweep on sweeps.swept_at = latest_sweep.swept_at
)

select
    versions.*,
    coalesce(
        versions._extracted_at < latest_sweep.swept_at and listed.lead_id is null, false
    ) as is_deleted
from versions
cross join latest_sweep
left join listed on versions.lead_id = listed.lead_id
