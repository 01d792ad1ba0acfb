{#- The rule types int_leads_qualified implements, one result column each; the seed
    qualification_rules turns them on and sets their parameters. The marts that show one
    column or row per rule read this list, so a new rule type is added here and in
    int_leads_qualified only. -#}
{% macro qualification_rule_types() -%}
    {{ return(["valid_phone", "focus_segment", "min_order_value", "not_duplicate"]) }}
{%- endmacro %}
