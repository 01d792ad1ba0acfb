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


{#- A double-precision float for ratios and durations (money is type_money()):
    dbt.type_float() is a 4-byte REAL on DuckDB. The standard SQL name works on DuckDB and
    Postgres alike. -#}
{% macro type_double() -%}
    double precision
{%- endmacro %}


{#- Seconds from one timestamp with time zone to another, as a float: the exact elapsed
    time, whatever the session time zone (dbt.datediff on DuckDB casts to local wall-clock
    time first, which gains or loses an hour across a daylight-saving change). -#}
{% macro seconds_between(start_tz, end_tz) -%}
    {{ return(adapter.dispatch("seconds_between", "funnelhouse")(start_tz, end_tz)) }}
{%- endmacro %}

{% macro duckdb__seconds_between(start_tz, end_tz) -%}
    (epoch({{ end_tz }}) - epoch({{ start_tz }}))
{%- endmacro %}

{% macro postgres__seconds_between(start_tz, end_tz) -%}
    cast(extract(epoch from ({{ end_tz }} - {{ start_tz }})) as double precision)
{%- endmacro %}


{#- An integer type wide enough for money in micro-units multiplied by a rate or a lead
    count (exact arithmetic, see macros/money.sql). -#}
{% macro type_wide_integer() -%}
    {{ return(adapter.dispatch("type_wide_integer", "funnelhouse")()) }}
{%- endmacro %}

{% macro duckdb__type_wide_integer() -%}
    hugeint
{%- endmacro %}

{% macro postgres__type_wide_integer() -%}
    numeric(38, 0)
{%- endmacro %}


{#- Integer division truncated toward zero, exact for type_wide_integer() operands
    (DuckDB's `/` and decimal `//` return a float). -#}
{% macro integer_divide(numerator, denominator) -%}
    {{ return(adapter.dispatch("integer_divide", "funnelhouse")(numerator, denominator)) }}
{%- endmacro %}

{% macro duckdb__integer_divide(numerator, denominator) -%}
    (cast({{ numerator }} as hugeint) // cast({{ denominator }} as hugeint))
{%- endmacro %}

{% macro postgres__integer_divide(numerator, denominator) -%}
    div(cast({{ numerator }} as numeric), cast({{ denominator }} as numeric))
{%- endmacro %}
