{{ config(materialized="table") }}

{#- The newest version of every deal (stg_bitrix24__deal_versions) with is_deleted: Bitrix24
    lists no deleted record, so a deal the latest id sweep does not list counts as deleted
    (see macros/swept_deletions.sql). -#}
{{ swept_deletions(ref("stg_bitrix24__deal_versions"), "bitrix24", "deal_ids", "deal_id") }}
