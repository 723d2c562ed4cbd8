-- Which LookML explores each dashboard and Look reads, and so which mesh products
-- feed it. The company models the mesh one LookML model per domain, each explore
-- named after the port it reads (the bi domain's ExportLookML writes those views),
-- so the model marketing with the explore crm_deals_v1 reads marketing.crm_deals_v1;
-- an explore not named <product>_v<major> reads something that is not on the mesh.
-- A dashboard's explores come from its tiles (a tile showing a Look reads the Look's
-- query); a Look's from the history of its runs.
WITH dashboard_reads AS (
    SELECT
        'dashboard'                                   AS content_type,
        e.dashboard_id                                AS content_id,
        d.title,
        coalesce(e.query_model, e.look_model)         AS model,
        coalesce(e.query_view, e.look_view)           AS explore,
        count(*)                                      AS tiles
    FROM looker.dashboard_elements e
    JOIN looker.dashboards d ON d.id = e.dashboard_id
    WHERE coalesce(e.query_view, e.look_view) IS NOT NULL
    GROUP BY ALL
),
look_reads AS (
    SELECT
        'look'                                        AS content_type,
        CAST(h.look_id AS VARCHAR)                    AS content_id,
        l.title,
        h.query_model                                 AS model,
        h.query_view                                  AS explore,
        1                                             AS tiles
    FROM looker.query_history h
    JOIN looker.looks l ON l.id = CAST(h.look_id AS VARCHAR)
    WHERE h.source = 'look'
    GROUP BY ALL
),
usage AS (
    SELECT 'dashboard' AS content_type, dashboard_id AS content_id,
           count(DISTINCT dashboard_session) AS views, count(DISTINCT user_id) AS viewers,
           max(CAST(created_time AS DATE)) AS last_viewed
    FROM looker.query_history
    WHERE dashboard_session IS NOT NULL AND dashboard_id IS NOT NULL
    GROUP BY ALL
    UNION ALL
    SELECT 'look', CAST(look_id AS VARCHAR),
           count(*), count(DISTINCT user_id), max(CAST(created_time AS DATE))
    FROM looker.query_history
    WHERE source = 'look' AND look_id IS NOT NULL
    GROUP BY ALL
),
reads AS (
    SELECT *, regexp_matches(explore, '^[a-z][a-z0-9_]*_v[0-9]+$') AS on_mesh
    FROM (SELECT * FROM dashboard_reads UNION ALL SELECT * FROM look_reads)
)
SELECT
    r.content_type,
    r.content_id,
    r.title,
    r.model,
    r.explore,
    r.on_mesh,
    CASE WHEN r.on_mesh THEN r.model END                                             AS source_domain,
    CASE WHEN r.on_mesh THEN regexp_extract(r.explore, '^(.*)_v[0-9]+$', 1) END      AS source_product,
    CASE WHEN r.on_mesh THEN CAST(regexp_extract(r.explore, '_v([0-9]+)$', 1) AS BIGINT) END AS source_major,
    CASE WHEN r.on_mesh THEN r.model || '.' || r.explore END                         AS source_port,
    r.tiles,
    coalesce(u.views, 0)                                                             AS views,
    coalesce(u.viewers, 0)                                                           AS viewers,
    u.last_viewed
FROM reads r
LEFT JOIN usage u USING (content_type, content_id)
