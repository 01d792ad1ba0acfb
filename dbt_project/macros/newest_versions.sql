{#- The body of an incremental staging model: the newest version of every key.

    A re-run of any extraction window lands the same records again in new files, so raw
    holds several versions per key. An incremental run reads only files newer than the
    newest `_extracted_at` already staged, less an overlap (var `restage_overlap_hours`),
    and ranks their rows together with the staged rows of the same keys, so an
    out-of-order file can never replace a newer version and a late one is not skipped.
    `columns` are the staged ones: the source's columns, usually less the bulky raw
    `_payload`. -#}

{% macro newest_versions(source_name, table_name, columns, unique_key, newest_first) -%}
    {%- set key_matches = [] -%}
    {%- for key in unique_key -%}
        {%- do key_matches.append("staged." ~ key ~ " = landed." ~ key) -%}
    {%- endfor %}
with landed as (
    select {{ columns | join(", ") }}
    from {{ landed_source(source_name, table_name) }}
    {%- if is_incremental() %}
    {# The overlap re-reads files that landed while another run was building: a run's
       files can land after a later-starting run staged newer ones. #}
    where _extracted_at > {{ dbt.dateadd(
            "hour",
            -var("restage_overlap_hours"),
            "(select max(_extracted_at) from " ~ this ~ ")"
        ) }}
        or (select max(_extracted_at) from {{ this }}) is null
    {%- endif %}
),

versions as (
    select * from landed
    {%- if is_incremental() %}
    union all
    select {{ columns | join(", ") }}
    from {{ this }} as staged
    where exists (select 1 from landed where {{ key_matches | join(" and ") }})
    {%- endif %}
),

ranked as (
    select
        *,
        row_number() over (
            partition by {{ unique_key | join(", ") }} order by {{ newest_first }}
        ) as version_rank
    from versions
)

select {{ columns | join(", ") }}
from ranked
where version_rank = 1
{%- endmacro %}
