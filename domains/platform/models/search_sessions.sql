-- Search sessions as the database holds them now (deleted ones left out by the raw
-- view), with their length and dwell time; the query text stays in the database.
SELECT
    s.session_id,
    s.user_id,
    s.account_id,
    company_gid(a.web_domain)                     AS company_gid,
    s.started_at,
    s.ended_at,
    CAST(s.started_at AS DATE)                    AS search_date,
    date_diff('second', s.started_at, s.ended_at) AS duration_seconds,
    s.results,
    s.clicks,
    s.dwell_seconds,
    s.results = 0                                 AS zero_results
FROM platform_db.search_sessions AS s
LEFT JOIN platform_db.accounts AS a ON a.account_id = s.account_id
