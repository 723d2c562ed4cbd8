package github

import (
	"testing"
	"time"
)

// Members is what other imitations derive their staff from: it must be the
// teams' members the organisation itself serves, bots aside.
func TestMembersAreTheTeamsPeople(t *testing.T) {
	a := New(Options{Seed: 5, Now: func() time.Time { return time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC) }})
	var want []string
	for _, rp := range a.w.repos {
		for _, u := range rp.members {
			want = append(want, u.name+" <"+u.email+"> "+rp.team)
		}
	}
	members := Members(5)
	if len(members) != len(want) || len(want) == 0 {
		t.Fatalf("%d members, %d in the repositories' teams", len(members), len(want))
	}
	for i, m := range members {
		if got := m.Name + " <" + m.Email + "> " + m.Team; got != want[i] {
			t.Errorf("member %d = %s, want %s", i, got, want[i])
		}
	}
}
