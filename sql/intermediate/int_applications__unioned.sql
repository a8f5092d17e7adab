-- Job applications and hires per account-day and job, conformed.
-- File drops (applicant-tracking exports, 'files', account '<network>.<account>') become rows of that network; when a
-- connector and a file both report a job on a day for the same account, the API row wins (like
-- int_post_metrics__unioned). source_platform says where a row came from.
-- materialized: view
-- not materialized CTEs: read several times by api_rows_first; inlined, a reader's filters reach the staging scans
-- (int_post_metrics__unioned)
with unioned as not materialized (
    {{ union_staging('applications') }}
),

conformed as not materialized (
    select
        {{ file_drops_as_networks() }}
    from unioned
),

final as (
    {{ api_rows_first('conformed', ['platform', 'account_id', 'date', 'job_id']) }}
)

select * from final
