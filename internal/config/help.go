package config

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// PrintDefaults writes the help of every flag of fs, as the flag package
// does ("  -name TYPE" then the usage), with the types named by
// Setting.Type and the value the setting holds before the command line
// (its default or its variable) shown as the default, except a secret's:
// for a secret it only says whether one is set. A zero value is shown
// only when the setting declares a default (the info log level is
// slog.Level's zero; dev's DKIM verification is off though serve's is on).
func PrintDefaults(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		var typ, usage, def string
		if v, ok := f.Value.(*flagValue); ok {
			typ, usage = v.s.Type(), f.Usage
			switch {
			case v.s.Secret && v.s.IsZero():
			case v.s.Secret:
				def = "(set, not shown)"
			case (!v.s.IsZero() || v.s.Default != "") && typ == "string":
				def = fmt.Sprintf("(default %q)", f.DefValue)
			case !v.s.IsZero() || v.s.Default != "":
				def = "(default " + f.DefValue + ")"
			}
		} else {
			typ, usage = flag.UnquoteUsage(f)
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
				def = fmt.Sprintf("(default %q)", f.DefValue)
			}
		}
		var b strings.Builder
		b.WriteString("  -" + f.Name)
		if typ != "" {
			b.WriteString(" " + typ)
		}
		b.WriteString("\n    \t" + strings.ReplaceAll(usage, "\n", "\n    \t"))
		if def != "" {
			b.WriteString(" " + def)
		}
		fmt.Fprintln(w, b.String())
	})
}
