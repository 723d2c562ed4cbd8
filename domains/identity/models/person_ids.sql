-- One row per person record of each source system with its global person id, from the
-- shared person_gid macro over the e-mail address, and the global id of the person's
-- company. As with companies, records are never merged: same_source_records > 1 flags
-- two records of one system with one address.
WITH records AS (
    SELECT 'hubspot' AS source_system, contact_id AS source_id, email, person_gid,
           company_gid, updated_at
    FROM marketing.crm_contacts
    UNION ALL
    -- Pendo visitors carry the e-mail the install snippet sends; their company is their
    -- account's, as identity.company_ids resolved it.
    SELECT 'pendo', v.visitor_id, nullif(lower(trim(v.email)), ''), person_gid(v.email),
           a.company_gid, v.last_updated_at
    FROM pendo.visitors AS v
    LEFT JOIN identity.company_ids AS a ON a.source_system = 'pendo' AND a.source_id = v.account_id
    WHERE v.visitor_id IS NOT NULL
    UNION ALL
    -- Platform users come with their person_gid and company_gid computed by the
    -- platform domain (platform.user_ids): their addresses are restricted
    -- (platform.users), so this port, which anyone inside may read, leaves them out.
    SELECT 'platform', CAST(user_id AS VARCHAR), NULL, person_gid, company_gid, updated_at
    FROM platform.user_ids
),
per_gid AS (
    SELECT person_gid, count(DISTINCT source_system) AS sources
    FROM records
    WHERE person_gid IS NOT NULL
    GROUP BY person_gid
),
per_source_gid AS (
    SELECT source_system, person_gid, count(*) AS records
    FROM records
    WHERE person_gid IS NOT NULL
    GROUP BY source_system, person_gid
)
SELECT
    r.source_system,
    r.source_id,
    r.email,
    r.person_gid,
    r.company_gid,
    coalesce(g.sources, 0)                   AS matched_sources,
    coalesce(s.records, 0)                   AS same_source_records,
    CASE WHEN r.person_gid IS NULL THEN 'no_email'
         WHEN g.sources > 1 THEN 'matched'
         ELSE 'no_partner' END               AS match_status,
    r.updated_at
FROM records AS r
LEFT JOIN per_gid AS g ON g.person_gid = r.person_gid
LEFT JOIN per_source_gid AS s ON s.source_system = r.source_system AND s.person_gid = r.person_gid
