package corpus

import (
	"fmt"
	"strings"
	"testing"
)

// recordTB is a testing.TB that records Fatalf and Skipf instead of
// stopping the goroutine, so that Missing's decision can be seen.
type recordTB struct {
	testing.TB
	fatal, skip string
}

func (r *recordTB) Helper() {}
func (r *recordTB) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
}
func (r *recordTB) Skipf(format string, args ...any) {
	r.skip = fmt.Sprintf(format, args...)
}

// TestMissingFailsUnderCI checks that an absent corpus suite fails
// the test when CI=true and skips it, with a message naming the suite,
// otherwise.
func TestMissingFailsUnderCI(t *testing.T) {
	for _, tc := range []struct {
		ci       string
		wantFail bool
	}{
		{"true", true}, {"1", true}, {"TRUE", true}, {"", false}, {"false", false}, {"yes-please", false},
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			r := &recordTB{TB: t}
			Dir(r, "no-such-suite")
			msg := r.skip
			if tc.wantFail {
				msg = r.fatal
			}
			if (r.fatal != "") != tc.wantFail || (r.skip != "") == tc.wantFail {
				t.Fatalf("CI=%q: fatal %q, skip %q; want failure %v", tc.ci, r.fatal, r.skip, tc.wantFail)
			}
			if !strings.Contains(msg, `"no-such-suite"`) {
				t.Errorf("message %q does not name the missing suite", msg)
			}
		})
	}
}
