-- The e-mail events the database holds now (purged ones left out by the raw view),
-- with the recipient's normalised address (PII: the port is restricted) and
-- person_gid: the port the communications domain builds its audit on.
SELECT
    e.event_id,
    e.message_id,
    e.user_id,
    email_address(e.recipient) AS recipient,
    person_gid(e.recipient)    AS person_gid,
    e.template,
    e.kind,
    e.occurred_at
FROM platform_db.email_events AS e
