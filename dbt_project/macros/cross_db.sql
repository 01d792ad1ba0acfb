{#- Portable helpers that dbt's cross-database macros lack, dispatched per adapter. -#}

{#- A UTC timestamp (with time zone) as wall-clock time in the reporting time zone. -#}
{% macro to_reporting_time_zone(timestamp_tz) -%}
    {{ return(adapter.dispatch("to_reporting_time_zone", "funnelhouse")(timestamp_tz)) }}
{%- endmacro %}

{% macro duckdb__to_reporting_time_zone(timestamp_tz) -%}
    timezone('{{ var("reporting_time_zone") }}', {{ timestamp_tz }})
{%- endmacro %}

{% macro postgres__to_reporting_time_zone(timestamp_tz) -%}
    ({{ timestamp_tz }} at time zone '{{ var("reporting_time_zone") }}')
{%- endmacro %}


{#- Median as an aggregate (the 50th percentile, interpolated). -#}
{% macro median(expression) -%}
    {{ return(adapter.dispatch("median", "funnelhouse")(expression)) }}
{%- endmacro %}

{% macro duckdb__median(expression) -%}
    median({{ expression }})
{%- endmacro %}

{% macro postgres__median(expression) -%}
    percentile_cont(0.5) within group (order by {{ expression }})
{%- endmacro %}


{#- One top-level key of a JSON object held as text, as text. -#}
{% macro json_text(json_column, key) -%}
    {{ return(adapter.dispatch("json_text", "funnelhouse")(json_column, key)) }}
{%- endmacro %}

{% macro duckdb__json_text(json_column, key) -%}
    json_extract_string({{ json_column }}, '$.{{ key }}')
{%- endmacro %}

{% macro postgres__json_text(json_column, key) -%}
    (cast({{ json_column }} as json) ->> '{{ key }}')
{%- endmacro %}


{#- A double-precision float: dbt.type_float() is a 4-byte REAL on DuckDB, too coarse for
    money. The standard SQL name works on DuckDB and Postgres alike. -#}
{% macro type_double() -%}
    double precision
{%- endmacro %}
