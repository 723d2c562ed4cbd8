package jira

import (
	"testing"
	"time"
)

// People is what other imitations derive their staff from: it must be the users
// the site itself serves.
func TestPeopleAreTheSitesUsers(t *testing.T) {
	a := New(Options{Seed: 5, Now: func() time.Time { return time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC) }})
	people := People(5)
	if len(people) != len(a.w.users) {
		t.Fatalf("%d people, %d users", len(people), len(a.w.users))
	}
	for i, u := range a.w.users {
		if people[i].Name != u.name || people[i].Email != u.email {
			t.Errorf("person %d = %+v, user %s <%s>", i, people[i], u.name, u.email)
		}
	}
}
