-- The platform's users with their global ids and no PII: what the identity domain
-- maps to person_gid without reading the restricted platform.users.
SELECT
    u.user_id,
    u.account_id,
    person_gid(u.email)       AS person_gid,
    company_gid(a.web_domain) AS company_gid,
    u.created_at,
    u.updated_at
FROM platform_db.users AS u
LEFT JOIN platform_db.accounts AS a ON a.account_id = u.account_id
