{#- Every CRM's leads in one canonical shape. Each CRM adds a conformed model of its own
    and a `union all` here. -#}
select * from {{ ref("int_amocrm__leads_conformed") }}
union all
select * from {{ ref("int_bitrix24__leads_conformed") }}
union all
select * from {{ ref("int_hubspot__leads_conformed") }}
