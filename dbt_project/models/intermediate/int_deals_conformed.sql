{#- Every CRM's deals in one canonical shape (see int_leads_conformed). -#}
select * from {{ ref("int_amocrm__deals_conformed") }}
union all
select * from {{ ref("int_bitrix24__deals_conformed") }}
union all
select * from {{ ref("int_hubspot__deals_conformed") }}
