{#- `amount` in `currency` as the reporting currency (type_money()), at the last rate
    published on or before `on_date` (see int_currency_rates_ranged); NULL when either rate
    is missing. Exact: amount × from-rate ÷ to-rate is computed on integers and rounded once
    to the micro-unit (macros/money.sql). Pass qualified column names: the rate subqueries
    have a `currency` column too. -#}
{% macro convert_to_reporting_currency(amount, currency, on_date) -%}
    {%- set from_rate = _rate_on(currency, on_date, "from_rate") -%}
    {%- set to_rate = _rate_on("'" ~ var("reporting_currency") ~ "'", on_date, "to_rate") -%}
    {{ from_scaled_integer(
        divide_rounded(to_scaled_integer(amount, 6) ~ " * " ~ from_rate, to_rate), 6
    ) }}
{%- endmacro %}


{#- The scaled units_per_base (× 10^12, an integer) of `currency` on `on_date`, as a scalar
    subquery. -#}
{% macro _rate_on(currency, on_date, alias) -%}
    (
        select {{ to_scaled_integer(alias ~ ".units_per_base", 12) }}
        from {{ ref("int_currency_rates_ranged") }} as {{ alias }}
        where {{ alias }}.currency = {{ currency }}
            and ({{ alias }}.valid_from is null or {{ alias }}.valid_from <= {{ on_date }})
            and ({{ alias }}.valid_to is null or {{ on_date }} < {{ alias }}.valid_to)
    )
{%- endmacro %}
