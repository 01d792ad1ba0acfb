{{ config(materialized="table") }}

{#- The newest version of every lead (stg_bitrix24__lead_versions) with is_deleted: Bitrix24
    lists no deleted record, so a lead the latest id sweep does not list counts as deleted
    (see macros/swept_deletions.sql). -#}
{{ swept_deletions(ref("stg_bitrix24__lead_versions"), "bitrix24", "lead_ids", "lead_id") }}
