package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// A configuration file is TOML (github.com/BurntSushi/toml) with one
// top-level key per setting: the setting's toml tag, its environment
// variable without POSTERN_ in lower case (database_url = "…"). Values
// are TOML strings in the syntax of the flag ("30s", "25MiB", "on"),
// booleans, integers, or arrays of strings for lists. A key that is no
// setting, a table, or a value of another type is an error naming the
// file, the line and the key. The file sits between the environment and
// the defaults (Precedence).

// Precedence is the order in which a setting's sources win, highest
// first.
const Precedence = "command-line flag, then environment variable, then configuration file, then default"

// FileEnv is the environment variable naming the configuration file;
// FileFlag the flag (--config FILE).
const (
	FileEnv  = "POSTERN_CONFIG"
	FileFlag = "config"
)

// LoadFile sets the settings of c named in only (nil: all) from the TOML
// file at path.
func (c *Config) LoadFile(path string, only []string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("configuration file: %w", err)
	}
	return c.loadTOML(path, string(b), only)
}

// loadTOML is LoadFile of text, read from name.
func (c *Config) loadTOML(name, text string, only []string) error {
	var raw map[string]any
	if _, err := toml.Decode(text, &raw); err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return fmt.Errorf("%s:%d: %s", name, perr.Position.Line, perr.Message)
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	byKey := map[string]Setting{}
	for _, s := range c.Settings() {
		byKey[s.TOML] = s
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	// In file order, so that the first problem is the first reported.
	slices.SortFunc(keys, func(a, b string) int { return keyLine(text, a) - keyLine(text, b) })
	for _, k := range keys {
		at := fmt.Sprintf("%s:%d", name, keyLine(text, k))
		s, ok := byKey[k]
		if !ok {
			return fmt.Errorf("%s: unknown key %q (keys are the POSTERN_ variables without the prefix, in lower case; postern config --print-defaults lists them)", at, k)
		}
		if only != nil && !slices.Contains(only, s.Flag) {
			continue
		}
		v, err := tomlText(raw[k])
		if err == nil {
			err = s.set(v)
		}
		if err != nil {
			if s.Secret {
				return fmt.Errorf("%s: %s: %v", at, k, err)
			}
			return fmt.Errorf("%s: %s = %v: %v", at, k, raw[k], err)
		}
	}
	return nil
}

// tomlText is a TOML value in the text syntax of a flag.
func tomlText(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return "", fmt.Errorf("a list holds strings only")
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	case map[string]any:
		return "", fmt.Errorf("tables are not used: every key is at the top level")
	}
	return "", fmt.Errorf("not a string, integer, boolean or list of strings")
}

// keyLine is the line of text where key is assigned (0: not found).
func keyLine(text, key string) int {
	re := regexp.MustCompile(`^\s*(` + regexp.QuoteMeta(key) + `|"` + regexp.QuoteMeta(key) + `"|\[` + regexp.QuoteMeta(key) + `\])\s*(=|$)`)
	for i, line := range strings.Split(text, "\n") {
		if re.MatchString(line) {
			return i + 1
		}
	}
	return 0
}

// FilePath returns the configuration file args (a command's arguments:
// --config FILE or --config=FILE) or the environment (FileEnv) name; ""
// when none.
func FilePath(args []string, lookup func(string) (string, bool)) string {
	for i, a := range args {
		if a == "--" {
			break
		}
		for _, p := range []string{"-" + FileFlag, "--" + FileFlag} {
			if a == p && i+1 < len(args) {
				return args[i+1]
			}
			if v, ok := strings.CutPrefix(a, p+"="); ok {
				return v
			}
		}
	}
	v, _ := lookup(FileEnv)
	return v
}

// PrintTOMLDefaults writes every setting as a TOML configuration file with
// its default, each after a comment with its doc line and variable; a
// setting without a default is commented out.
func PrintTOMLDefaults(w io.Writer) error {
	c := Default()
	for _, s := range c.Settings() {
		if _, err := fmt.Fprintf(w, "# %s (%s, --%s)\n", s.Doc, s.Env, s.Flag); err != nil {
			return err
		}
		val := s.tomlValue()
		if s.Text() == "" {
			fmt.Fprintf(w, "# %s = %s\n\n", s.TOML, val)
			continue
		}
		fmt.Fprintf(w, "%s = %s\n\n", s.TOML, val)
	}
	return nil
}

// tomlValue is the setting's value as a TOML value: a boolean or an
// integer as such, anything else a string.
func (s Setting) tomlValue() string {
	t := s.Text()
	switch s.v.Kind() {
	case reflect.Bool:
		if t == "true" || t == "false" {
			return t
		}
	case reflect.Int, reflect.Int64:
		if _, err := strconv.ParseInt(t, 10, 64); err == nil {
			return t
		}
	}
	return strconv.Quote(t)
}
