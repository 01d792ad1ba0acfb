-- The reasons' shares of each cohort month × segment × channel × stage add up to 1.
select cohort_month, segment, channel, funnel_stage, sum(share_of_stage_losses) as total_share
from {{ ref("mart_dropoffs") }}
group by cohort_month, segment, channel, funnel_stage
having abs(sum(share_of_stage_losses) - 1) > 1e-9
