-- Signups per account and UTC day (timestamps land in UTC, so the cast is the UTC
-- date). Deleted signups are not counted: the raw view leaves out tombstoned keys.
SELECT
    CAST(s.signed_up_at AS DATE)         AS signup_date,
    s.account_id,
    any_value(company_gid(a.web_domain)) AS company_gid,
    count(*)                             AS signups,
    count(*) FILTER (WHERE s.channel = 'invite') AS invited
FROM platform_db.signups AS s
LEFT JOIN platform_db.accounts AS a ON a.account_id = s.account_id
GROUP BY 1, 2
