{{ config(materialized="table") }}

{#- The newest version of every deal (stg_bitrix24__deal_versions) with is_deleted:
    Bitrix24 lists no deleted record, so a deal the latest id sweep does not list counts
    as deleted when its version landed before that sweep began (a version landed later is
    not judged by it). Without any sweep, no deal is deleted. -#}
with versions as (
    select * from {{ ref("stg_bitrix24__deal_versions") }}
),

sweeps as (
    select deal_id, _extracted_at as swept_at
    from {{ landed_source("bitrix24", "deal_ids") }}
),

latest_sweep as (
    select max(swept_at) as swept_at from sweeps
),

listed as (
    select distinct sweeps.deal_id
    from sweeps
    inner join latest_sweep on sweeps.swept_at = latest_sweep.swept_at
)

select
    versions.*,
    coalesce(
        versions._extracted_at < latest_sweep.swept_at and listed.deal_id is null, false
    ) as is_deleted
from versions
cross join latest_sweep
left join listed on versions.deal_id = listed.deal_id
