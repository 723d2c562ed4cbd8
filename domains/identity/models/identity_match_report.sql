-- How well the global ids match, per entity and source system: how many records have
-- an id, how many share it with another system (and with which), how many stay
-- unmatched and why, and how many conflict within their own system.
WITH records AS (
    SELECT 'company' AS entity, source_system, source_id, company_gid AS gid, same_source_records
    FROM identity.company_ids
    UNION ALL
    SELECT 'person', source_system, source_id, person_gid, same_source_records
    FROM identity.person_ids
),
holders AS (
    SELECT DISTINCT entity, gid, source_system AS holder
    FROM records
    WHERE gid IS NOT NULL
),
flags AS (
    SELECT
        r.entity, r.source_system, r.source_id, r.gid, r.same_source_records,
        count(h.holder) FILTER (WHERE h.holder <> r.source_system) > 0 AS matched,
        bool_or(h.holder = 'hubspot')    AS in_hubspot,
        bool_or(h.holder = 'crunchbase') AS in_crunchbase,
        bool_or(h.holder = 'pendo')      AS in_pendo,
        bool_or(h.holder = 'github')     AS in_github,
        bool_or(h.holder = 'platform')   AS in_platform
    FROM records AS r
    LEFT JOIN holders AS h ON h.entity = r.entity AND h.gid = r.gid
    GROUP BY r.entity, r.source_system, r.source_id, r.gid, r.same_source_records
)
SELECT
    entity,
    source_system,
    count(*)                                                  AS records,
    count(gid)                                                AS with_gid,
    count(DISTINCT gid)                                       AS distinct_gids,
    count(*) FILTER (WHERE matched)                           AS matched,
    count(*) FILTER (WHERE gid IS NULL)                       AS unmatched_no_gid,
    count(*) FILTER (WHERE gid IS NOT NULL AND NOT matched)   AS unmatched_no_partner,
    count(*) FILTER (WHERE same_source_records > 1)           AS conflicts,
    count(DISTINCT gid) FILTER (WHERE same_source_records > 1) AS conflict_gids,
    CASE WHEN source_system <> 'hubspot'    THEN count(*) FILTER (WHERE in_hubspot) END    AS matched_hubspot,
    CASE WHEN source_system <> 'crunchbase' THEN count(*) FILTER (WHERE in_crunchbase) END AS matched_crunchbase,
    CASE WHEN source_system <> 'pendo'      THEN count(*) FILTER (WHERE in_pendo) END      AS matched_pendo,
    CASE WHEN source_system <> 'github'     THEN count(*) FILTER (WHERE in_github) END     AS matched_github,
    CASE WHEN source_system <> 'platform'   THEN count(*) FILTER (WHERE in_platform) END   AS matched_platform
FROM flags
GROUP BY entity, source_system
