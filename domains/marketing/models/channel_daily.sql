-- Sessions and conversions per GA4 property, day and channel, summed over
-- web_traffic's landing pages. A day is computed from that day's rows alone, so a
-- re-pulled or backfilled day of web_traffic re-runs just that day here
-- (PartitionBy, triggered by web_traffic's publish of the day).
SELECT
    property_id,
    date,
    coalesce(channel, '(not set)')                                      AS channel,
    sum(sessions)                                                       AS sessions,
    coalesce(sum(conversions), 0)                                       AS conversions,
    count(DISTINCT landing_page)                                        AS landing_pages,
    CASE WHEN sum(sessions) > 0
         THEN coalesce(sum(conversions), 0) / CAST(sum(sessions) AS DOUBLE) END AS conversion_rate,
    max(pulled_at)                                                      AS pulled_at
FROM marketing.web_traffic
GROUP BY 1, 2, 3
