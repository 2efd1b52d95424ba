package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/postern/postern/internal/config"
)

// registerConfigFlag adds --config FILE to fs. parseConfig has read the
// file already (config.FilePath): the flag is there to be parsed and
// shown in --help.
func registerConfigFlag(fs *flag.FlagSet) {
	fs.String(config.FileFlag, "", "TOML configuration file ("+config.FileEnv+"); "+config.Precedence)
}

// cmdConfig is `postern config --print-defaults` (every setting as a TOML
// file, each with its default and doc) and `postern config --check` (the
// configuration given by flags, environment and file validated, its
// effective values printed, secrets masked; an error when serve would
// refuse it).
func cmdConfig(_ context.Context, args []string, stdout, stderr io.Writer) error {
	var defaults, check bool
	cfg, _, err := parseNoArgs("config", args, stderr, nil, func(fs *flag.FlagSet) {
		fs.BoolVar(&defaults, "print-defaults", false, "print every setting as a TOML configuration file, with its default")
		fs.BoolVar(&check, "check", false, "check the configuration (flags, environment, file) as serve would and print its values")
	})
	switch {
	case err != nil:
		return err
	case defaults == check:
		return fmt.Errorf("postern config: give --print-defaults or --check")
	case defaults:
		return config.PrintTOMLDefaults(stdout)
	}
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("configuration not valid: %w", err)
	}
	for _, s := range cfg.Settings() {
		v := s.Text()
		if s.Secret && v != "" {
			v = "(set, not shown)"
		}
		fmt.Fprintf(stdout, "%s = %q\n", s.TOML, v)
	}
	fmt.Fprintln(stdout, "# the configuration is valid")
	return nil
}
