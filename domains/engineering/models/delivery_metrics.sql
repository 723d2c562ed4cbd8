-- Weekly delivery per Jira project and per repository, from the engineering ports:
--   Jira:   issues completed, median cycle time (first move to In Progress → resolution)
--   GitHub: pull requests merged, median lead time (open → merge), median time to first review
WITH issue_cycle AS (
    SELECT
        i.issue_id,
        i.project_key,
        i.team,
        i.resolved_at,
        min(c.changed_at) FILTER (WHERE c.to_status = 'In Progress') AS started_at
    FROM engineering.jira_issues AS i
    LEFT JOIN engineering.jira_status_changes AS c ON c.issue_id = i.issue_id
    WHERE i.status_category = 'done' AND i.resolved_at IS NOT NULL
    GROUP BY i.issue_id, i.project_key, i.team, i.resolved_at
),
jira_weekly AS (
    SELECT
        CAST(date_trunc('week', resolved_at) AS DATE)                    AS week,
        'jira_project'                                                   AS scope_kind,
        project_key                                                      AS scope,
        lower(any_value(team))                                           AS team,
        count(*)                                                         AS items_completed,
        median(date_diff('second', started_at, resolved_at) / 3600.0)    AS cycle_time_p50_hours,
        CAST(NULL AS DOUBLE)                                             AS pr_lead_time_p50_hours,
        CAST(NULL AS DOUBLE)                                             AS review_latency_p50_hours,
        max(resolved_at)                                                 AS last_completed_at
    FROM issue_cycle
    GROUP BY 1, 2, 3
),
pr_weekly AS (
    SELECT
        CAST(date_trunc('week', merged_at) AS DATE)                      AS week,
        'repository'                                                     AS scope_kind,
        repository                                                       AS scope,
        any_value(team)                                                  AS team,
        count(*)                                                         AS items_completed,
        CAST(NULL AS DOUBLE)                                             AS cycle_time_p50_hours,
        median(lead_time_hours)                                          AS pr_lead_time_p50_hours,
        median(review_latency_hours)                                     AS review_latency_p50_hours,
        max(merged_at)                                                   AS last_completed_at
    FROM engineering.github_pull_requests
    WHERE is_merged
    GROUP BY 1, 2, 3
)
SELECT * FROM jira_weekly
UNION ALL
SELECT * FROM pr_weekly
