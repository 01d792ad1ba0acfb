{#- The newest versions of a source's records, marked deleted also when the latest id
    sweep does not list them although their version landed before that sweep began: a
    deletion no update-time window can see (the trash emptied, a source that lists no
    deleted records). A version landed after the sweep began is not judged by it: the
    record may have been created or restored since. Without any sweep, nothing changes.

    `deleted_flag`: the versions' own deleted column, kept in place and OR-ed in; without
    one, `is_deleted` is added. -#}

{% macro swept_deletions(versions, source_name, sweep_table, id_column, deleted_flag=none) -%}
with versions as (
    select * from {{ versions }}
),

sweeps as (
    select {{ id_column }}, _extracted_at as swept_at
    from {{ landed_source(source_name, sweep_table) }}
),

latest_sweep as (
    select max(swept_at) as swept_at from sweeps
),

listed as (
    select distinct sweeps.{{ id_column }}
    from sweeps
    inner join latest_sweep on sweeps.swept_at = latest_sweep.swept_at
)

select
{%- set missing_from_sweep -%}
    versions._extracted_at < latest_sweep.swept_at and listed.{{ id_column }} is null
{%- endset %}
{%- if deleted_flag %}
    versions.* replace (
        case when {{ missing_from_sweep }} then true else versions.{{ deleted_flag }} end
            as {{ deleted_flag }}
    )
{%- else %}
    versions.*,
    coalesce({{ missing_from_sweep }}, false) as is_deleted
{%- endif %}
from versions
cross join latest_sweep
left join listed on versions.{{ id_column }} = listed.{{ id_column }}
{%- endmacro %}
