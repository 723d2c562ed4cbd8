-- Bookings per calendar month, company and currency, from the billing system's monthly
-- CSV exports (finance_files.bookings: the newest version of each booking, so a month
-- dropped again with corrections replaces its rows). company_gid comes from the
-- mesh-wide macro over the customer's website, however billing spells it, so the rows
-- join marketing.crm_companies and every other port describing companies.
SELECT
    date_trunc('month', booked_on)::DATE    AS month,
    company_gid(website)                    AS company_gid,
    web_domain(website)                     AS web_domain,
    arg_max(customer, booked_on)            AS customer,
    currency,
    count(*)                                AS bookings,
    round(sum(amount), 2)                   AS booked_amount,
    round(sum(amount * 12 / term_months), 2) AS annualized_amount,
    count(*) FILTER (WHERE plan = 'enterprise') AS enterprise_bookings,
    string_agg(DISTINCT _file, ', ' ORDER BY _file) AS source_files
FROM finance_files.bookings
WHERE company_gid(website) IS NOT NULL AND booked_on IS NOT NULL
GROUP BY ALL
