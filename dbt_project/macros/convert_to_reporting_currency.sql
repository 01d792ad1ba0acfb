{#- `amount` in `currency` as the reporting currency, at the last rate published on or
    before `on_date` (see int_currency_rates_ranged); NULL when either rate is missing.
    Pass qualified column names: the rate subqueries have a `currency` column too. -#}
{% macro convert_to_reporting_currency(amount, currency, on_date) -%}
    {%- set rates = ref("int_currency_rates_ranged") -%}
    {{ amount }}
    * (
        select from_rate.units_per_base
        from {{ rates }} as from_rate
        where from_rate.currency = {{ currency }}
            and (from_rate.valid_from is null or from_rate.valid_from <= {{ on_date }})
            and (from_rate.valid_to is null or {{ on_date }} < from_rate.valid_to)
    )
    / (
        select to_rate.units_per_base
        from {{ rates }} as to_rate
        where to_rate.currency = '{{ var("reporting_currency") }}'
            and (to_rate.valid_from is null or to_rate.valid_from <= {{ on_date }})
            and (to_rate.valid_to is null or {{ on_date }} < to_rate.valid_to)
    )
{%- endmacro %}
