package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/postern/postern/threads/pgcluster"
)

// cmdDev runs Postern on its embedded default: a private PostgreSQL
// cluster under the data folder (installed with apt-get first when missing
// and permitted), a generated secret, and a Maildir for outgoing mail.
// Settings given explicitly (a database URL, a relay) are used instead.
func cmdDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, fs, err := parseConfig("dev", args, stderr, nil)
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogLevel, stderr)
	if cfg.Domain == "" {
		cfg.Domain = "forum.localhost"
	}
	if trustLoopbackInDev(fs) {
		cfg.TrustedNets = "127.0.0.0/8,::1/128"
		log.Warn("dev: mail from loopback is trusted as sent by its From address (set POSTERN_TRUSTED_NETWORKS to change)", "trusted_networks", cfg.TrustedNets)
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	if cfg.DatabaseURL == "" {
		if err := pgcluster.EnsureInstalled(ctx, log); err != nil {
			return err
		}
		cluster, err := pgcluster.Start(ctx, pgcluster.Options{Dir: filepath.Join(dir, "pg"), Logger: log})
		if err != nil {
			return fmt.Errorf("start private PostgreSQL: %w", err)
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := cluster.Stop(sctx); err != nil {
				log.Warn("stopping PostgreSQL", "err", err)
			}
		}()
		if err := ensureDatabase(ctx, cluster.URL("postgres"), "postern"); err != nil {
			return err
		}
		cfg.DatabaseURL = cluster.URL("postern")
	}
	if cfg.SecretFile == "" {
		cfg.SecretFile = filepath.Join(dir, "secret")
		if err := ensureSecret(cfg.SecretFile); err != nil {
			return err
		}
	}
	if cfg.RelayURL == "" && cfg.Maildir == defaultConfig().Maildir {
		cfg.Maildir = filepath.Join(dir, "maildir")
	}
	if err := migrateURL(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	out := "outgoing mail: Maildir " + cfg.Maildir + "/new"
	if cfg.RelayURL != "" {
		out = "outgoing mail: relay " + redactURL(cfg.RelayURL)
	}
	fmt.Fprintf(stdout, `Postern dev is starting.
  forum domain:  %s
  SMTP:          %s   (LMTP %s, HTTP %s)
  %s
Send a first question:
  curl --url smtp://%s --mail-from you@example.org --mail-rcpt ask@%s \
       --upload-file - <<'MAIL'
From: You <you@example.org>
To: ask@%s
Subject: How do I sleep better?

I wake up at 4am every night. What helps?
MAIL
Then list questions:  go run ./cmd/postern threads --database-url '%s'
`, cfg.Domain, cfg.SMTPAddr, cfg.LMTPAddr, cfg.HTTPAddr, out, cfg.SMTPAddr, cfg.Domain, cfg.Domain, cfg.DatabaseURL)
	return serve(ctx, cfg, log)
}

// trustLoopbackInDev reports whether `postern dev` trusts loopback: unless
// --trusted-networks or POSTERN_TRUSTED_NETWORKS was given.
func trustLoopbackInDev(fs *flag.FlagSet) bool {
	if _, ok := os.LookupEnv("POSTERN_TRUSTED_NETWORKS"); ok {
		return false
	}
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == "trusted-networks" })
	return !set
}

// ensureDatabase creates database name on the server at adminURL if it
// does not exist.
func ensureDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to private PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("check database: %w", err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	return nil
}

// ensureSecret writes a new random secret to path unless it exists.
func ensureSecret(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("secret file: %w", err)
	}
	b := make([]byte, 48)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("generate secret: %w", err)
	}
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(b)+"\n"), 0o600); err != nil {
		return fmt.Errorf("write secret file: %w", err)
	}
	return nil
}

// redactURL hides a password in a relay URL for printing.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}
