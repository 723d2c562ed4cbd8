-- One row per Jira issue with its current state; the owning team comes from the
-- project's category (each project belongs to one team).
SELECT
    i.id                AS issue_id,
    i.key               AS issue_key,
    i.project_key,
    p.category_name     AS team,
    i.summary,
    i.issue_type,
    i.status,
    i.status_category,
    i.priority,
    i.assignee_account_id AS assignee_id,
    i.assignee_name,
    i.created_at,
    i.updated_at,
    i.resolved_at
FROM jira.issues AS i
LEFT JOIN jira.projects AS p ON p.key = i.project_key
