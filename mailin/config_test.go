package mailin_test

import (
	"reflect"
	"testing"

	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/mailin"
)

// withDefaults returns cfg with each zero field taken from def: the tests
// set the limits they are about and take internal/config's defaults (the
// one place they are written) for the rest.
func withDefaults(cfg, def mailin.Config) mailin.Config {
	v, d := reflect.ValueOf(&cfg).Elem(), reflect.ValueOf(def)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			v.Field(i).Set(d.Field(i))
		}
	}
	return cfg
}

// TestConfigFromDefaults: the server's limits from internal/config's
// defaults are the documented ones, and the memory budget fits one largest
// message.
func TestConfigFromDefaults(t *testing.T) {
	c := mailin.ConfigFrom(config.Default())
	if c.MaxMessageBytes != 25<<20 || c.MaxRecipients != 50 || c.MaxLineLength != 4096 || c.MaxHeaderBytes != 1<<20 ||
		c.MaxReceived != 50 || c.WriteTimeout.Minutes() != 1 || c.CommitTimeout.Seconds() != 30 || c.MemoryBudget != 256<<20 {
		t.Errorf("ConfigFrom(Default()) = %+v", c)
	}
	if got := mailin.MemoryFloor(7<<20, 1<<20); got != 7<<20 {
		t.Errorf("floor of a budget that fits: %d", got)
	}
	if got := mailin.MemoryFloor(3<<20, 1<<20); got != 5<<20 {
		t.Errorf("floor of a budget too small: %d", got)
	}
}
