{#- Custom schemas are used verbatim (staging, intermediate, marts, seeds), so BI and the
    quality gate find `marts.mart_unit_economics` whatever the target's default schema. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
