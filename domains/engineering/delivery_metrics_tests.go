package engineering

import "github.com/meshflow/meshflow/framework/mesh"

// deliveryMetricsTests are delivery_metrics' unit tests (mesh test engineering).
func deliveryMetricsTests() []mesh.ModelTest {
	issues := mesh.FromProduct(Name, "jira_issues")
	issueColumns := []string{"issue_id", "project_key", "team", "status_category", "resolved_at"}
	return []mesh.ModelTest{{
		Name: "weeks_begin_on_monday_utc",
		Doc:  "An issue resolved on Sunday 23:59:59 UTC belongs to the week before one resolved at Monday 00:00 UTC, across a new year too.",
		Given: []mesh.Given{{Input: issues, Columns: issueColumns, Rows: [][]any{
			{"OPS-1", "OPS", "Platform Ops", "done", "2026-01-04 23:59:59"}, // Sunday: the week of Monday 2025-12-29
			{"OPS-2", "OPS", "Platform Ops", "done", "2026-01-05 00:00:00"}, // Monday midnight: a new week
			{"OPS-3", "OPS", "Platform Ops", "done", "2026-01-11 23:59:59"}, // its last second
		}}},
		Expect: mesh.Expect{
			Columns: []string{"week", "scope_kind", "scope", "team", "items_completed", "last_completed_at"},
			Rows: [][]any{
				{"2025-12-29", "jira_project", "OPS", "platform ops", 1, "2026-01-04 23:59:59"},
				{"2026-01-05", "jira_project", "OPS", "platform ops", 2, "2026-01-11 23:59:59"},
			},
		},
	}, {
		Name: "cycle_time_from_first_start",
		Doc: "Cycle time runs from an issue's first move to In Progress (not a later one) to its resolution; an issue never started counts as completed " +
			"without a cycle time; issues not done, or done without a resolution date, are not completed.",
		Given: []mesh.Given{{Input: issues, Columns: issueColumns, Rows: [][]any{
			{"CORE-1", "CORE", "Core", "done", "2026-01-07 12:00:00"},
			{"CORE-2", "CORE", "Core", "done", "2026-01-08 00:00:00"},
			{"CORE-3", "CORE", "Core", "done", "2026-01-09 00:00:00"},          // never In Progress
			{"CORE-4", "CORE", "Core", "indeterminate", "2026-01-07 00:00:00"}, // reopened
			{"CORE-5", "CORE", "Core", "done", nil},                            // done without a resolution date
		}}, {Input: mesh.FromProduct(Name, "jira_status_changes"), Columns: []string{"change_id", "issue_id", "to_status", "changed_at"}, Rows: [][]any{
			{"1", "CORE-1", "In Progress", "2026-01-06 12:00:00"}, // 24 hours before its resolution
			{"2", "CORE-1", "To Do", "2026-01-06 18:00:00"},
			{"3", "CORE-1", "In Progress", "2026-01-07 06:00:00"}, // started again: not where cycle time begins
			{"4", "CORE-2", "In Progress", "2026-01-05 00:00:00"}, // 72 hours
			{"5", "CORE-2", "In Review", "2026-01-07 00:00:00"},
			{"6", "CORE-4", "In Progress", "2026-01-05 00:00:00"},
		}}},
		Expect: mesh.Expect{ // every column: an exact comparison
			Columns: []string{"week", "scope_kind", "scope", "team", "items_completed", "cycle_time_p50_hours", "pr_lead_time_p50_hours", "review_latency_p50_hours", "last_completed_at"},
			Rows:    [][]any{{"2026-01-05", "jira_project", "CORE", "core", 3, 48.0, nil, nil, "2026-01-09 00:00:00"}},
		},
	}, {
		Name: "merged_pull_requests_per_repository",
		Doc:  "Only merged pull requests count; medians of lead time and review latency leave out a pull request never reviewed.",
		Given: []mesh.Given{{Input: mesh.FromProduct(Name, "github_pull_requests"),
			Columns: []string{"pr_key", "repository", "team", "is_merged", "merged_at", "lead_time_hours", "review_latency_hours"},
			Rows: [][]any{
				{"acme/api#1", "acme/api", "api", true, "2026-01-05 10:00:00", 2.0, 1.0},
				{"acme/api#2", "acme/api", "api", true, "2026-01-06 10:00:00", 4.0, nil}, // never reviewed
				{"acme/api#3", "acme/api", "api", true, "2026-01-07 10:00:00", 30.0, 3.0},
				{"acme/api#4", "acme/api", "api", false, nil, nil, 0.5}, // closed without merging
				{"acme/web#1", "acme/web", "web", true, "2026-01-11 23:30:00", 1.5, 0.25},
				{"acme/web#2", "acme/web", "web", true, "2026-01-12 00:00:00", 1.0, 0.5}, // the next week
			},
		}},
		Expect: mesh.Expect{
			Columns: []string{"week", "scope_kind", "scope", "team", "items_completed", "cycle_time_p50_hours", "pr_lead_time_p50_hours", "review_latency_p50_hours", "last_completed_at"},
			Rows: [][]any{
				{"2026-01-05", "repository", "acme/api", "api", 3, nil, 4.0, 2.0, "2026-01-07 10:00:00"},
				{"2026-01-05", "repository", "acme/web", "web", 1, nil, 1.5, 0.25, "2026-01-11 23:30:00"},
				{"2026-01-12", "repository", "acme/web", "web", 1, nil, 1.0, 0.5, "2026-01-12 00:00:00"},
			},
		},
	}}
}
