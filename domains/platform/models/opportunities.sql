-- The job opportunities the database holds now (withdrawn drafts left out by the raw
-- view), with the hiring account's company_gid, how long each was open, and how much
-- attention its page had: views, distinct viewers and seconds spent on it (dwell
-- events the database still holds).
SELECT
    o.opportunity_id,
    o.account_id,
    company_gid(a.web_domain)                 AS company_gid,
    o.posted_by_user_id,
    o.title,
    o.status,
    o.opened_at,
    o.closed_at,
    date_diff('day', o.opened_at, o.closed_at) AS days_open,
    count(d.dwell_event_id)                   AS views,
    count(DISTINCT d.user_id)                 AS viewers,
    coalesce(sum(d.dwell_seconds), 0)         AS dwell_seconds
FROM platform_db.opportunities AS o
LEFT JOIN platform_db.accounts AS a ON a.account_id = o.account_id
LEFT JOIN platform_db.dwell_events AS d ON d.page_kind = 'opportunity' AND d.page_id = o.opportunity_id
GROUP BY ALL
