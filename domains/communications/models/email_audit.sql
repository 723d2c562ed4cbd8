-- Every e-mail message's lifecycle, one row per message, from the platform's e-mail
-- events (platform.email_events: the events the platform's database holds now, so a
-- purged message leaves the audit). A message is sent, then delivered or bounced,
-- then opened any number of times and perhaps reported as spam (complained).
SELECT
    message_id,
    arg_min(user_id, occurred_at)                          AS user_id,
    arg_min(recipient, occurred_at)                        AS recipient,
    arg_min(person_gid, occurred_at)                       AS person_gid,
    arg_min(template, occurred_at)                         AS template,
    min(occurred_at) FILTER (WHERE kind = 'sent')          AS sent_at,
    min(occurred_at) FILTER (WHERE kind = 'delivered')     AS delivered_at,
    min(occurred_at) FILTER (WHERE kind = 'opened')        AS first_opened_at,
    count(*) FILTER (WHERE kind = 'opened')                AS opens,
    bool_or(kind = 'bounced')                              AS bounced,
    bool_or(kind = 'complained')                           AS complained,
    CASE WHEN bool_or(kind = 'complained') THEN 'complained'
         WHEN bool_or(kind = 'bounced')    THEN 'bounced'
         WHEN bool_or(kind = 'opened')     THEN 'opened'
         WHEN bool_or(kind = 'delivered')  THEN 'delivered'
         ELSE 'sent' END                                   AS status,
    count(*)                                               AS events,
    max(occurred_at)                                       AS last_event_at
FROM platform.email_events
GROUP BY message_id
