-- Daily web traffic per GA4 property, channel and landing page. GA4 numbers settle over
-- 24–48 h, so the connector re-pulls recent days; the newest pull of each
-- (property, date, channel, landing page) wins here, so a re-pulled day replaces its rows.
SELECT
    property_id,
    date,
    session_default_channel_group           AS channel,
    landing_page,
    sessions,
    total_users                             AS users,
    conversions,
    CASE WHEN sessions > 0 THEN conversions / sessions END AS conversion_rate,
    pulled_at
FROM googleanalytics.daily_report
