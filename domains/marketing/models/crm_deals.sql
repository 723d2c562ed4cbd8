-- One row per live HubSpot deal, with its outcome spelled out for reporting, and the
-- global id of its company.
SELECT
    id                                   AS deal_id,
    deal_name,
    amount,
    deal_stage,
    deal_stage = 'closedwon'             AS is_won,
    deal_stage IN ('closedwon', 'closedlost') AS is_closed,
    pipeline,
    associated_company_id                AS company_id,
    close_date,
    created_at,
    coalesce(last_modified_at, updated_at) AS updated_at,
    company.company_gid
FROM hubspot.deals
LEFT JOIN (SELECT company_id AS gid_company_id, company_gid FROM marketing.crm_companies) AS company
    ON company.gid_company_id = associated_company_id
WHERE NOT coalesce(archived, false)
