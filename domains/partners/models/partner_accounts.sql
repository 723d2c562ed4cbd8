-- The partner list as the partnerships team last dropped it: the rows of the newest
-- landing of partners.xlsx (the whole list), so a partner taken off the list leaves
-- the port. company_gid comes from the mesh-wide macro over the partner's website.
WITH latest AS (
    SELECT _run_id FROM partner_files.partners_history ORDER BY _extracted_at DESC LIMIT 1
)
SELECT
    partner_id,
    partner_name,
    company_gid(website)                    AS company_gid,
    web_domain(website)                     AS web_domain,
    lower(tier)                             AS tier,
    lower(partner_type)                     AS partner_type,
    upper(region)                           AS region,
    partner_manager,
    signed_on,
    coalesce(active, false)                 AS active,
    _file                                   AS source_file,
    _row                                    AS source_row
FROM partner_files.partners_history
WHERE _run_id = (SELECT _run_id FROM latest)
QUALIFY row_number() OVER (PARTITION BY partner_id ORDER BY _row DESC) = 1
