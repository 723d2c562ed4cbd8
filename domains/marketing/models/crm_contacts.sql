-- One row per live HubSpot contact, newest version (the framework's hubspot.contacts view
-- already keeps the newest landed version of each record). person_gid derives from the
-- e-mail address; company_gid is the global id of the contact's company.
SELECT
    id                                   AS contact_id,
    nullif(lower(trim(email)), '')       AS email,
    first_name,
    last_name,
    associated_company_id                AS company_id,
    lifecycle_stage,
    country,
    created_at,
    coalesce(last_modified_at, updated_at) AS updated_at,
    person_gid(email)                    AS person_gid,
    company.company_gid
FROM hubspot.contacts
LEFT JOIN (SELECT company_id AS gid_company_id, company_gid FROM marketing.crm_companies) AS company
    ON company.gid_company_id = associated_company_id
WHERE NOT coalesce(archived, false)
