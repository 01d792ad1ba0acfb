{#- Every CRM's leads in one canonical shape. HubSpot and Bitrix24 add a conformed model
    of their own and a `union all` here. -#}
select * from {{ ref("int_amocrm__leads_conformed") }}
