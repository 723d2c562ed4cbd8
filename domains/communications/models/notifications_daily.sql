-- Notifications per UTC day they were sent, account, channel and kind, over the
-- notifications the platform's database holds now (a dismissed one is not counted),
-- with how many were read, and read within the hour.
SELECT
    CAST(created_at AS DATE)                                              AS notification_date,
    account_id,
    any_value(company_gid)                                                AS company_gid,
    channel,
    kind,
    count(*)                                                              AS notifications,
    count(read_at)                                                        AS read,
    count(*) FILTER (WHERE read_at <= created_at + INTERVAL 1 HOUR)       AS read_within_hour,
    count(DISTINCT user_id)                                               AS users
FROM platform.notifications
GROUP BY ALL
