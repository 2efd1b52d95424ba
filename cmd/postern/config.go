package main

import (
	"github.com/postern/postern/internal/config"
)

// Config is the configuration of a command: every setting (internal/config,
// where each is declared with its flag, variable, default and doc).
type Config struct {
	config.Config
}

// defaultConfig is every setting at its default (config.Default).
func defaultConfig() Config { return Config{Config: config.Default()} }

// validate checks the configuration of serve and dev: the settings they
// need are given, and every value is in range.
func (c *Config) validate() error {
	if err := c.Require("database-url", "domain", "secret-file"); err != nil {
		return err
	}
	return c.Validate()
}
