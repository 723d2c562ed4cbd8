-- Time spent on pages per viewer's account, UTC day and kind of page, over the dwell
-- events the database holds now (purged ones are not counted).
SELECT
    CAST(d.occurred_at AS DATE)  AS dwell_date,
    d.account_id,
    company_gid(a.web_domain)    AS company_gid,
    d.page_kind,
    count(*)                     AS views,
    count(DISTINCT d.user_id)    AS viewers,
    sum(d.dwell_seconds)         AS dwell_seconds,
    max(d.dwell_seconds)         AS longest_dwell_seconds
FROM platform_db.dwell_events AS d
LEFT JOIN platform_db.accounts AS a ON a.account_id = d.account_id
GROUP BY ALL
