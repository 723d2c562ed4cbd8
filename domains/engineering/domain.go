// Package engineering is the engineering domain: delivery data from Jira and GitHub and
// the delivery metrics built from them. The engineering-productivity team owns it.
package engineering

import (
	"embed"
	"time"

	"github.com/meshflow/meshflow/framework/mesh"
)

// Name is the domain's name; its workers poll the task queue "meshflow.engineering".
const Name = "engineering"

var (
	//go:embed models/jira_issues.sql
	jiraIssuesSQL string
	//go:embed models/jira_status_changes.sql
	statusChangesSQL string
	//go:embed models/github_pull_requests.sql
	pullRequestsSQL string
	//go:embed models/github_commits.sql
	commitsSQL string
	//go:embed models/delivery_metrics.sql
	deliveryMetricsSQL string
)

// hourly products are refreshed every hour during the working day; late after a
// few missed runs, stale after a day.
var hourly = mesh.Freshness{Column: "updated_at", WarnAfter: 6 * time.Hour, FailAfter: 26 * time.Hour}

// folder is the domain's folder as the build embeds it: `mesh check` names a
// model's file and line, and finds a .sql file no product uses.
//
//go:embed models
var folder embed.FS

// Domain declares the engineering domain and its products.
func Domain() mesh.Domain {
	return mesh.Domain{
		Name:        Name,
		Files:       folder,
		Owner:       "engineering-productivity",
		Contact:     "#eng-productivity",
		Description: "How engineering delivers: issues, status changes, pull requests, commits and the metrics built from them.",
		Products:    []mesh.Product{jiraIssues(), statusChanges(), pullRequests(), commits(), deliveryMetrics()},
	}
}

func jiraIssues() mesh.Product {
	return mesh.Product{
		Name: "jira_issues",
		Description: "Every Jira issue with its current status, status category, assignee, project and team. " +
			"Times are UTC whatever the Jira user's time zone.",
		UseCases: []string{
			"Work in progress and backlog size per team.",
			"Resolution times per project and issue type.",
		},
		Tags:    []string{"jira", "delivery"},
		Version: "1.0.0",
		Inputs:  []mesh.Input{mesh.Raw("jira", "issues"), mesh.Raw("jira", "projects")},
		Model:   jiraIssuesSQL,
		// Incremental: an issue's row comes from that issue's newest version, joined to
		// the projects as a whole, so a run recomputes only the issues landed since the
		// last publish; a change to a project (its team) computes everything.
		Incremental: mesh.IncrementalOn(mesh.Raw("jira", "issues"), map[string]string{"issue_id": "id"}),
		Schema: []mesh.Column{
			{Name: "issue_id", Type: mesh.String, Required: true, Doc: "Jira issue id; stable when an issue moves project."},
			{Name: "issue_key", Type: mesh.String, Required: true, Doc: "Issue key such as OPS-7."},
			{Name: "project_key", Type: mesh.String, Required: true, Doc: "Project key such as OPS."},
			{Name: "team", Type: mesh.String, Doc: "Owning team: the project's category."},
			{Name: "summary", Type: mesh.String, Doc: "One-line title."},
			{Name: "issue_type", Type: mesh.String, Doc: "Task, Bug, Story, Epic, …"},
			{Name: "status", Type: mesh.String, Doc: "Workflow status name."},
			{Name: "status_category", Type: mesh.String, Required: true, Doc: "new, indeterminate (in progress) or done; the same across workflows."},
			{Name: "priority", Type: mesh.String, Doc: "Priority name."},
			{Name: "assignee_id", Type: mesh.String, Doc: "Atlassian account id of the assignee; null when unassigned."},
			{Name: "assignee_name", Type: mesh.String, Doc: "Display name of the assignee.", Tags: mesh.PII(mesh.TagName)},
			{Name: "created_at", Type: mesh.Timestamp, Required: true, Doc: "When the issue was created (UTC)."},
			{Name: "updated_at", Type: mesh.Timestamp, Required: true, Doc: "When the issue last changed (UTC)."},
			{Name: "resolved_at", Type: mesh.Timestamp, Doc: "When the issue was resolved (UTC); null while open."},
		},
		PrimaryKey:     []string{"issue_id"},
		Classification: mesh.Internal,
		Checks: []mesh.Check{
			mesh.AcceptedValues("status_category", "new", "indeterminate", "done"),
			mesh.RowCount(1, 0),
			mesh.SQL("resolved_after_created", "SELECT * FROM model WHERE resolved_at < created_at"),
			mesh.SQL("done_issues_are_resolved", "SELECT * FROM model WHERE status_category = 'done' AND resolved_at IS NULL").AsWarn().
				Describe("Done issues normally carry a resolution date; a workflow without one only warns."),
		},
		Freshness: hourly,
		Cadence:   "@hourly",
	}
}

func statusChanges() mesh.Product {
	return mesh.Product{
		Name: "jira_status_changes",
		Description: "Every status transition of every Jira issue, from the full changelog. " +
			"The basis of cycle-time and flow metrics.",
		UseCases: []string{
			"Cycle time: first move to In Progress until the last move to Done.",
			"Time spent in review or blocked states.",
		},
		Tags:    []string{"jira", "delivery", "history"},
		Version: "1.0.0",
		Inputs:  []mesh.Input{mesh.Raw("jira", "issue_changelog")},
		Model:   statusChangesSQL,
		// Incremental: a transition's row comes from its changelog entry alone (an entry
		// without a status item has none), so a run reads only the entries landed since
		// the last publish, however long the changelog.
		Incremental: mesh.IncrementalOn(mesh.Raw("jira", "issue_changelog"), map[string]string{"change_id": "id"}),
		Schema: []mesh.Column{
			{Name: "change_id", Type: mesh.String, Required: true, Doc: "Changelog entry id."},
			{Name: "issue_id", Type: mesh.String, Required: true, Doc: "The issue (jira_issues.issue_id)."},
			{Name: "issue_key", Type: mesh.String, Doc: "The issue's key at the time of the change."},
			{Name: "project_key", Type: mesh.String, Doc: "Project key taken from the issue key."},
			{Name: "from_status", Type: mesh.String, Doc: "Status before the change."},
			{Name: "to_status", Type: mesh.String, Required: true, Doc: "Status after the change."},
			{Name: "changed_by", Type: mesh.String, Doc: "Display name of who changed it."},
			{Name: "changed_at", Type: mesh.Timestamp, Required: true, Doc: "When it changed (UTC)."},
		},
		PrimaryKey:     []string{"change_id"},
		Classification: mesh.Internal,
		Checks: []mesh.Check{
			mesh.RowCount(1, 0),
			mesh.SQL("status_actually_changes", "SELECT * FROM model WHERE from_status = to_status").AsWarn(),
		},
		Freshness: mesh.Freshness{Column: "changed_at", WarnAfter: 6 * time.Hour, FailAfter: 26 * time.Hour},
		Cadence:   "@hourly",
	}
}

func pullRequests() mesh.Product {
	return mesh.Product{
		Name: "github_pull_requests",
		Description: "Every pull request of the configured repositories: author, state, when it was opened, " +
			"reviewed, merged or closed, and the repository's team.",
		UseCases: []string{
			"PR lead time (open → merge) and review latency (open → first review) per team.",
			"Open and stale pull requests per repository.",
		},
		Tags:    []string{"github", "delivery"},
		Version: "1.0.0",
		Inputs:  []mesh.Input{mesh.Raw("github", "pull_requests"), mesh.Raw("github", "pull_request_reviews"), mesh.Raw("github", "repositories")},
		Model:   pullRequestsSQL,
		Schema: []mesh.Column{
			{Name: "pr_key", Type: mesh.String, Required: true, Doc: "owner/repo#number: unique across repositories."},
			{Name: "repository", Type: mesh.String, Required: true, Doc: "owner/name of the repository."},
			{Name: "number", Type: mesh.Int64, Required: true, Doc: "Pull request number within the repository."},
			{Name: "team", Type: mesh.String, Doc: "Team owning the repository (lower case)."},
			{Name: "title", Type: mesh.String, Doc: "Title."},
			{Name: "author", Type: mesh.String, Doc: "GitHub login of the author."},
			{Name: "is_bot", Type: mesh.Bool, Doc: "True when a bot (e.g. Dependabot) opened it."},
			{Name: "state", Type: mesh.String, Required: true, Doc: "open or closed (merged pull requests are closed)."},
			{Name: "is_draft", Type: mesh.Bool, Doc: "True while a draft."},
			{Name: "is_merged", Type: mesh.Bool, Required: true, Doc: "True once merged."},
			{Name: "base_ref", Type: mesh.String, Doc: "Branch it merges into."},
			{Name: "created_at", Type: mesh.Timestamp, Required: true, Doc: "When it was opened (UTC)."},
			{Name: "updated_at", Type: mesh.Timestamp, Required: true, Doc: "When it last changed (UTC)."},
			{Name: "closed_at", Type: mesh.Timestamp, Doc: "When it was closed or merged (UTC)."},
			{Name: "merged_at", Type: mesh.Timestamp, Doc: "When it was merged (UTC); null if not merged."},
			{Name: "first_review_at", Type: mesh.Timestamp, Doc: "When the first review was submitted (UTC); null if none yet."},
			{Name: "lead_time_hours", Type: mesh.Float64, Doc: "Hours from opening to merge; null if not merged."},
			{Name: "review_latency_hours", Type: mesh.Float64, Doc: "Hours from opening to the first review; null if none."},
		},
		PrimaryKey:     []string{"pr_key"},
		Classification: mesh.Internal,
		Checks: []mesh.Check{
			mesh.AcceptedValues("state", "open", "closed"),
			mesh.RowCount(1, 0),
			mesh.SQL("merged_means_closed", "SELECT * FROM model WHERE is_merged AND state <> 'closed'"),
			mesh.SQL("no_negative_lead_time", "SELECT * FROM model WHERE lead_time_hours < 0 OR review_latency_hours < 0"),
		},
		Freshness: hourly,
		Cadence:   "@hourly",
	}
}

func commits() mesh.Product {
	return mesh.Product{
		Name:        "github_commits",
		Description: "Commits on the default and release branches of the configured repositories, with author and times.",
		UseCases: []string{
			"Commit activity per repository and branch.",
			"Join authors to people by e-mail.",
		},
		Tags:    []string{"github", "delivery"},
		Version: "1.0.0",
		Inputs:  []mesh.Input{mesh.Raw("github", "commits")},
		Model:   commitsSQL,
		// Incremental: a commit's row comes from that commit (per branch) alone, so a run
		// reads only the commits landed since the last publish.
		Incremental: mesh.IncrementalOn(mesh.Raw("github", "commits"), map[string]string{"repository": "repository", "branch": "branch", "sha": "sha"}),
		Schema: []mesh.Column{
			{Name: "repository", Type: mesh.String, Required: true, Doc: "owner/name of the repository."},
			{Name: "branch", Type: mesh.String, Required: true, Doc: "Branch the commit was read from."},
			{Name: "sha", Type: mesh.String, Required: true, Doc: "Commit SHA."},
			{Name: "message_headline", Type: mesh.String, Doc: "First line of the commit message."},
			{Name: "author_name", Type: mesh.String, Doc: "Git author name.", Tags: mesh.PII(mesh.TagName)},
			{Name: "author_email", Type: mesh.String, Doc: "Git author e-mail, lower-cased.", Tags: mesh.PII(mesh.TagEmail)},
			{Name: "author_login", Type: mesh.String, Doc: "GitHub login of the author when GitHub knows it."},
			{Name: "authored_at", Type: mesh.Timestamp, Doc: "Author date (UTC)."},
			{Name: "committed_at", Type: mesh.Timestamp, Required: true, Doc: "Committer date (UTC)."},
		},
		PrimaryKey:     []string{"repository", "branch", "sha"},
		Classification: mesh.Internal,
		Checks:         []mesh.Check{mesh.RowCount(1, 0)},
		Freshness:      mesh.Freshness{Column: "committed_at", WarnAfter: 6 * time.Hour, FailAfter: 26 * time.Hour},
		Cadence:        "@hourly",
	}
}

func deliveryMetrics() mesh.Product {
	return mesh.Product{
		Name: "delivery_metrics",
		Description: "Weekly delivery per Jira project and per repository: throughput, cycle time, PR lead time and review latency. " +
			"Built from the jira_issues, jira_status_changes and github_pull_requests ports.",
		UseCases: []string{
			"Team delivery reviews: is throughput steady, are cycle and lead times shrinking?",
			"Spot review bottlenecks by repository.",
		},
		Tags:    []string{"delivery", "metrics", "dora"},
		Version: "1.0.0",
		Inputs: []mesh.Input{
			mesh.FromProduct(Name, "jira_issues"), mesh.FromProduct(Name, "jira_status_changes"), mesh.FromProduct(Name, "github_pull_requests"),
		},
		Model: deliveryMetricsSQL,
		Schema: []mesh.Column{
			{Name: "week", Type: mesh.Date, Required: true, Doc: "Monday of the ISO week (UTC) the work completed in."},
			{Name: "scope_kind", Type: mesh.String, Required: true, Doc: "jira_project or repository."},
			{Name: "scope", Type: mesh.String, Required: true, Doc: "The Jira project key or the owner/name repository."},
			{Name: "team", Type: mesh.String, Doc: "Owning team (lower case)."},
			{Name: "items_completed", Type: mesh.Int64, Required: true, Doc: "Issues resolved as done, or pull requests merged, in the week."},
			{Name: "cycle_time_p50_hours", Type: mesh.Float64, Doc: "Jira: median hours from the first move to In Progress until resolution."},
			{Name: "pr_lead_time_p50_hours", Type: mesh.Float64, Doc: "GitHub: median hours from opening a pull request to merging it."},
			{Name: "review_latency_p50_hours", Type: mesh.Float64, Doc: "GitHub: median hours from opening to the first review."},
			{Name: "last_completed_at", Type: mesh.Timestamp, Required: true, Doc: "The latest completion in the week (UTC)."},
		},
		PrimaryKey:     []string{"week", "scope_kind", "scope"},
		Classification: mesh.Internal,
		Checks: []mesh.Check{
			mesh.AcceptedValues("scope_kind", "jira_project", "repository"),
			mesh.SQL("positive_throughput", "SELECT * FROM model WHERE items_completed <= 0"),
			mesh.SQL("no_negative_durations", "SELECT * FROM model WHERE cycle_time_p50_hours < 0 OR pr_lead_time_p50_hours < 0"),
		},
		Freshness: mesh.Freshness{Column: "last_completed_at", WarnAfter: 6 * time.Hour, FailAfter: 26 * time.Hour},
		Tests:     deliveryMetricsTests(),
	}
}
