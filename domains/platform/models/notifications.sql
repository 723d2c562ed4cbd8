-- The notifications the database holds now (dismissed ones left out by the raw
-- view), with their account's company_gid.
SELECT
    n.notification_id,
    n.user_id,
    n.account_id,
    company_gid(a.web_domain) AS company_gid,
    n.channel,
    n.kind,
    n.created_at,
    n.read_at
FROM platform_db.notifications AS n
LEFT JOIN platform_db.accounts AS a ON a.account_id = n.account_id
