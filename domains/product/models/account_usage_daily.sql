-- Daily page and feature usage per Pendo account. Pendo buckets days at midnight in the
-- subscription's time zone and sends that instant, which alone cannot name the day:
-- zones run from UTC−12 to UTC+14, so a local midnight falls anywhere in a 26-hour span
-- of UTC and no fixed shift of the instant gives its date. The connector knows the
-- zone (PENDO_TIME_ZONE) and lands each bucket's local date as local_date. Rows landed
-- before it did (before 1.2.0) fall back to the old rule, the UTC date 12 hours after
-- the bucket's start, which is right for zones from UTC−11 to UTC+12 only; a full
-- refresh of pendo.page_events and pendo.feature_events lands them again with the date.
-- company_gid is the global company id of the account's website domain (as the install
-- snippet sends it in metadata.agent.domain, in any spelling).
WITH events AS (
    SELECT 'page' AS object_kind, page_id AS object_id, account_id, visitor_id, day, local_date, num_events, num_minutes
    FROM pendo.page_events
    UNION ALL
    SELECT 'feature' AS object_kind, feature_id AS object_id, account_id, visitor_id, day, local_date, num_events, num_minutes
    FROM pendo.feature_events
)
SELECT
    coalesce(e.local_date, CAST(e.day + INTERVAL 12 HOUR AS DATE)) AS usage_date,
    e.account_id,
    any_value(a.name)                       AS account_name,
    e.object_kind,
    e.object_id,
    any_value(coalesce(p.name, f.name))     AS object_name,
    sum(e.num_events)                       AS events,
    sum(e.num_minutes)                      AS minutes,
    count(DISTINCT e.visitor_id)            AS visitors,
    max(e.day)                              AS day_start,
    any_value(company_gid(a.domain))        AS company_gid
FROM events AS e
LEFT JOIN pendo.accounts AS a ON a.account_id = e.account_id
LEFT JOIN pendo.pages    AS p ON e.object_kind = 'page' AND p.id = e.object_id
LEFT JOIN pendo.features AS f ON e.object_kind = 'feature' AND f.id = e.object_id
WHERE e.account_id IS NOT NULL
GROUP BY 1, 2, 4, 5
