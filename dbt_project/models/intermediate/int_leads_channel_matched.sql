{#- The channel of each lead (METRICS.md, Dimensions):
    1. campaigns whose id equals the trimmed utm_campaign, or whose name (any name the
       platform reported) equals it trimmed and case-insensitively;
    2. when they belong to several platforms, the utm_source alias (seed
       ad_platform_aliases) keeps that platform's campaigns only;
    3. exactly one campaign left: the channel is its platform; otherwise `ambiguous`;
    4. no campaign at all: the non-paid channel of the seed nonpaid_channels, the most
       specific row winning (`*` matches anything), else `unattributed`. -#}
with leads as (
    select
        lead_id,
        trim(utm_campaign) as utm_campaign,
        lower(trim(utm_source)) as utm_source,
        lower(trim(utm_medium)) as utm_medium
    from {{ ref("int_leads_conformed") }}
),

campaigns as (
    select distinct
        platform,
        campaign_id,
        lower(trim(campaign_name)) as campaign_name
    from {{ ref("int_ad_spend_converted") }}
),

{#- Two equality joins, not one join on "id = … or name = …": an OR condition cannot
    be hashed and turns into a nested loop over leads × campaigns. -#}
campaign_matches as (
    select leads.lead_id, campaigns.platform, campaigns.campaign_id
    from leads
    inner join campaigns on leads.utm_campaign = campaigns.campaign_id

    union

    select leads.lead_id, campaigns.platform, campaigns.campaign_id
    from leads
    inner join campaigns on lower(leads.utm_campaign) = campaigns.campaign_name
),

matched_platform_counts as (
    select lead_id, count(distinct platform) as platform_count
    from campaign_matches
    group by lead_id
),

alias_platforms as (
    select leads.lead_id, aliases.platform
    from leads
    inner join {{ ref("ad_platform_aliases") }} as aliases
        on leads.utm_source = lower(trim(aliases.utm_source))
),

narrowed_matches as (
    select campaign_matches.*
    from campaign_matches
    inner join matched_platform_counts
        on campaign_matches.lead_id = matched_platform_counts.lead_id
    where matched_platform_counts.platform_count = 1
        or exists (
            select 1
            from alias_platforms
            where alias_platforms.lead_id = campaign_matches.lead_id
                and alias_platforms.platform = campaign_matches.platform
        )
),

paid_channels as (
    select
        matched_platform_counts.lead_id,
        count(narrowed_matches.campaign_id) as campaign_count,
        max(narrowed_matches.platform) as platform,
        max(narrowed_matches.campaign_id) as campaign_id
    from matched_platform_counts
    left join narrowed_matches
        on matched_platform_counts.lead_id = narrowed_matches.lead_id
    group by matched_platform_counts.lead_id
),

nonpaid_matches as (
    select
        leads.lead_id,
        nonpaid.channel,
        row_number() over (
            partition by leads.lead_id
            order by
                case when trim(nonpaid.utm_source) = '*' then 0 else 1 end
                + case when trim(nonpaid.utm_medium) = '*' then 0 else 1 end desc,
                nonpaid.channel
        ) as match_rank
    from leads
    inner join {{ ref("nonpaid_channels") }} as nonpaid
        on (trim(nonpaid.utm_source) = '*' or lower(trim(nonpaid.utm_source)) = leads.utm_source)
        and (trim(nonpaid.utm_medium) = '*' or lower(trim(nonpaid.utm_medium)) = leads.utm_medium)
)

select
    leads.lead_id,
    case
        when paid_channels.campaign_count = 1 then paid_channels.platform
        when paid_channels.lead_id is not null then 'ambiguous'
        when nonpaid_matches.channel is not null then nonpaid_matches.channel
        else 'unattributed'
    end as channel,
    case when paid_channels.campaign_count = 1 then paid_channels.platform end as platform,
    case when paid_channels.campaign_count = 1 then paid_channels.campaign_id end as campaign_id,
    case
        when paid_channels.campaign_count = 1 then 'campaign'
        when paid_channels.lead_id is not null then 'ambiguous'
        when nonpaid_matches.channel is not null then 'nonpaid_rule'
        else 'none'
    end as channel_match
from leads
left join paid_channels on leads.lead_id = paid_channels.lead_id
left join nonpaid_matches
    on leads.lead_id = nonpaid_matches.lead_id
    and nonpaid_matches.match_rank = 1
