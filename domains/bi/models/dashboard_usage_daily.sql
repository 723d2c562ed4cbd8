-- One row per dashboard, user and UTC day someone opened the dashboard. A view is a
-- dashboard session — one per opening (or reload), however many tiles it runs — so
-- a scheduled delivery, which runs the tiles without a session, is no view. The
-- e-mail is the user's as Looker held it when the query ran, normalised the mesh's
-- way, so person_gid joins the people of the other domains.
WITH runs AS (
    SELECT
        CAST(created_time AS DATE) AS view_date,
        dashboard_id,
        user_id,
        user_email,
        dashboard_session,
        result_source,
        runtime_seconds
    FROM looker.query_history
    WHERE dashboard_session IS NOT NULL
      AND dashboard_id IS NOT NULL
)
SELECT
    r.view_date,
    r.dashboard_id,
    d.title                                               AS dashboard_title,
    CAST(r.user_id AS VARCHAR)                            AS user_id,
    email_address(max(r.user_email))                      AS email,
    person_gid(max(r.user_email))                         AS person_gid,
    count(DISTINCT r.dashboard_session)                   AS views,
    count(*)                                              AS queries,
    count(*) FILTER (WHERE r.result_source = 'cache')     AS cached_queries,
    round(sum(r.runtime_seconds), 3)                      AS runtime_seconds
FROM runs r
LEFT JOIN looker.dashboards d ON d.id = r.dashboard_id
GROUP BY r.view_date, r.dashboard_id, d.title, r.user_id
