-- Engagement per account and UTC day: events, distinct active users and time spent,
-- over the events the database holds now (updated ones as they are, deleted ones
-- left out by the raw view).
SELECT
    CAST(e.occurred_at AS DATE)          AS activity_date,
    e.account_id,
    any_value(company_gid(a.web_domain)) AS company_gid,
    count(*)                             AS engagements,
    count(DISTINCT e.user_id)            AS active_users,
    sum(e.duration_seconds)              AS engaged_seconds
FROM platform_db.engagements AS e
LEFT JOIN platform_db.accounts AS a ON a.account_id = e.account_id
GROUP BY 1, 2
