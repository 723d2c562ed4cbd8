-- One row per pull request with its outcome, the repository's team, and the two
-- latencies reviews are judged by: open → first review, open → merge.
WITH first_review AS (
    SELECT repository, pull_number, min(submitted_at) AS first_review_at
    FROM github.pull_request_reviews
    GROUP BY repository, pull_number
)
SELECT
    pr.repository || '#' || pr.number         AS pr_key,
    pr.repository,
    pr.number,
    lower(r.team)                             AS team,
    pr.title,
    pr.author_login                           AS author,
    pr.author_type = 'Bot'                    AS is_bot,
    pr.state,
    coalesce(pr.draft, false)                 AS is_draft,
    pr.merged_at IS NOT NULL                  AS is_merged,
    pr.base_ref,
    pr.created_at,
    pr.updated_at,
    pr.closed_at,
    pr.merged_at,
    fr.first_review_at,
    date_diff('second', pr.created_at, pr.merged_at) / 3600.0       AS lead_time_hours,
    date_diff('second', pr.created_at, fr.first_review_at) / 3600.0 AS review_latency_hours
FROM github.pull_requests AS pr
LEFT JOIN github.repositories AS r ON r.repository = pr.repository
LEFT JOIN first_review AS fr ON fr.repository = pr.repository AND fr.pull_number = pr.number
