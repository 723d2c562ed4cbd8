-- One row per invoice from the accounting system's monthly workbooks
-- (finance_files.invoices: the newest version of each invoice, so a workbook dropped
-- again updates the status of its invoices), with the customer's company_gid from the
-- mesh-wide macro and the file and row each invoice was read from.
SELECT
    invoice_number,
    company_gid(website)                    AS company_gid,
    web_domain(website)                     AS web_domain,
    customer,
    issued_on,
    due_on,
    round(amount, 2)                        AS amount,
    currency,
    status,
    paid_on,
    CASE WHEN paid_on IS NOT NULL THEN date_diff('day', issued_on, paid_on) END AS days_to_pay,
    _file                                   AS source_file,
    _row                                    AS source_row
FROM finance_files.invoices
