package config

import (
	"encoding"
	"flag"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/postern/postern/mailin/auth"
)

// Setting is one setting of a Config, bound to its field: what its tags
// say, and the means to read and write the field as text.
type Setting struct {
	Flag    string // flag name, without dashes
	Env     string // environment variable
	TOML    string // key in a configuration file
	Default string // default as text ("" for the zero value)
	Doc     string // one line of help
	Secret  bool   // never printed

	v reflect.Value // the field, addressable
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	policyType   = reflect.TypeFor[auth.Policy]()
	levelType    = reflect.TypeFor[slog.Level]()
)

// Settings returns every setting of c in declaration order, bound to c's
// fields: setting one through the flag package or LoadEnv writes c.
func (c *Config) Settings() []Setting {
	var out []Setting
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		t := v.Type()
		for i := range t.NumField() {
			f, fv := t.Field(i), v.Field(i)
			name, ok := f.Tag.Lookup("flag")
			if !ok {
				if f.Type.Kind() != reflect.Struct {
					panic("config: field " + f.Name + " has no flag tag")
				}
				walk(fv)
				continue
			}
			out = append(out, Setting{Flag: name, Env: f.Tag.Get("env"), TOML: f.Tag.Get("toml"),
				Default: f.Tag.Get("default"), Doc: f.Tag.Get("doc"), Secret: f.Tag.Get("secret") == "true", v: fv})
		}
	}
	walk(reflect.ValueOf(c).Elem())
	return out
}

// Lookup returns the setting of c with flag name name.
func (c *Config) Lookup(name string) (Setting, bool) {
	for _, s := range c.Settings() {
		if s.Flag == name {
			return s, true
		}
	}
	return Setting{}, false
}

// set parses text into the field.
func (s Setting) set(text string) error {
	v := s.v
	switch {
	case v.Type() == durationType:
		d, err := time.ParseDuration(strings.TrimSpace(text))
		if err != nil {
			return fmt.Errorf("not a duration (e.g. 30s, 5m)")
		}
		v.SetInt(int64(d))
		return nil
	case v.Type() == policyType:
		p, err := auth.ParsePolicy(text)
		if err != nil {
			return err
		}
		v.Set(reflect.ValueOf(p))
		return nil
	}
	if u, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return u.UnmarshalText([]byte(text))
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(text)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(text))
		if err != nil {
			return fmt.Errorf("not a boolean (true or false)")
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		v.SetInt(n)
	default:
		panic("config: setting " + s.Flag + " has unsupported type " + v.Type().String())
	}
	return nil
}

// Text returns the field's value in the syntax set accepts. Secrets are
// returned too: callers that print must check Secret.
func (s Setting) Text() string {
	v := s.v
	switch {
	case !v.IsValid():
		return ""
	case v.Type() == durationType:
		return time.Duration(v.Int()).String()
	case v.Type() == levelType:
		return strings.ToLower(v.Interface().(slog.Level).String())
	case v.Type() == policyType:
		return v.String()
	}
	if st, ok := v.Interface().(fmt.Stringer); ok {
		return st.String()
	}
	switch v.Kind() {
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	}
	return v.String()
}

// IsZero reports whether the field holds its type's zero value.
func (s Setting) IsZero() bool { return !s.v.IsValid() || s.v.IsZero() }

// Type names the kind of value for --help: string, int, bool (""),
// duration, bytes, list, networks, on|off, level or policy.
func (s Setting) Type() string {
	switch t := s.v.Type(); t {
	case durationType:
		return "duration"
	case policyType:
		return "policy"
	case levelType:
		return "level"
	case reflect.TypeFor[Bytes]():
		return "bytes"
	case reflect.TypeFor[OnOff]():
		return "on|off"
	case reflect.TypeFor[List]():
		return "list"
	case reflect.TypeFor[Networks]():
		return "networks"
	}
	switch s.v.Kind() {
	case reflect.Bool:
		return ""
	case reflect.Int, reflect.Int64:
		return "int"
	}
	return "string"
}

// named is the setting as error messages name it: "--flag (ENV)".
func (s Setting) named() string { return "--" + s.Flag + " (" + s.Env + ")" }

// LoadEnv sets every setting named in only (nil: all) whose variable
// lookup finds (os.LookupEnv in production). An unparsable value is an
// error naming the variable (and the value, unless secret).
func (c *Config) LoadEnv(lookup func(string) (string, bool), only []string) error {
	for _, s := range c.Settings() {
		if only != nil && !slices.Contains(only, s.Flag) {
			continue
		}
		text, ok := lookup(s.Env)
		if !ok {
			continue
		}
		if err := s.set(text); err != nil {
			if s.Secret {
				return fmt.Errorf("%s: %v", s.Env, err)
			}
			return fmt.Errorf("%s=%q: %v", s.Env, text, err)
		}
	}
	return nil
}

// flagValue adapts a Setting to flag.Value.
type flagValue struct{ s Setting }

func (f *flagValue) Set(text string) error {
	if err := f.s.set(text); err != nil {
		return fmt.Errorf("%v (--%s, %s)", err, f.s.Flag, f.s.Env)
	}
	return nil
}

// String is the flag's value for the flag package's default: never a
// secret's.
func (f *flagValue) String() string {
	if f == nil || f.s.Secret {
		return ""
	}
	return f.s.Text()
}

// IsBoolFlag lets a plain bool setting be given as --name alone.
func (f *flagValue) IsBoolFlag() bool {
	return f.s.v.IsValid() && f.s.v.Type() == reflect.TypeFor[bool]()
}

// Register adds the settings named in only (nil: all) to fs as flags
// writing c. Call it after LoadEnv so that a flag given on the command
// line overrides the variable, which overrides the default.
func (c *Config) Register(fs *flag.FlagSet, only []string) {
	for _, s := range c.Settings() {
		if only == nil || slices.Contains(only, s.Flag) {
			fs.Var(&flagValue{s}, s.Flag, s.Doc+" (env "+s.Env+")")
		}
	}
}

// Environ returns "VAR=value" for every setting of c that differs from
// its default, secrets included: it is for the environment of a child
// process (the benchmark's postern serve), never for printing.
func (c *Config) Environ() []string {
	def := Default()
	defs := def.Settings()
	var out []string
	for i, s := range c.Settings() {
		if t := s.Text(); t != defs[i].Text() {
			out = append(out, s.Env+"="+t)
		}
	}
	return out
}
