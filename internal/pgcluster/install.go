package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// binaries are the server tools of one PostgreSQL installation.
type binaries struct {
	dir, initdb, pgCtl, postgres string
	version                      string // major version, from the path, if known
}

// ErrNotInstalled is wrapped by the errors of Start and EnsureInstalled when
// no PostgreSQL server binaries (initdb, pg_ctl, postgres) can be found.
var ErrNotInstalled = errors.New("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: install the Debian package \"postgresql\" (apt-get install -y postgresql), or put the directory holding them on PATH or in POSTERN_PG_BINDIR")

// findBinaries looks in $POSTERN_PG_BINDIR, then the newest
// /usr/lib/postgresql/*/bin, then `pg_config --bindir`, then PATH.
func findBinaries() (binaries, error) {
	var candidates []string
	if d := os.Getenv("POSTERN_PG_BINDIR"); d != "" {
		candidates = append(candidates, d)
	}
	if dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin"); len(dirs) > 0 {
		slices.SortFunc(dirs, func(a, b string) int { // newest first
			va, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(a)), 64)
			vb, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(b)), 64)
			switch {
			case va > vb:
				return -1
			case va < vb:
				return 1
			}
			return strings.Compare(b, a)
		})
		candidates = append(candidates, dirs...)
	}
	if pgc, err := exec.LookPath("pg_config"); err == nil {
		if out, err := exec.Command(pgc, "--bindir").Output(); err == nil {
			candidates = append(candidates, strings.TrimSpace(string(out)))
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		candidates = append(candidates, filepath.Dir(p))
	}
	for _, d := range candidates {
		b := binaries{
			dir:      d,
			initdb:   filepath.Join(d, "initdb"),
			pgCtl:    filepath.Join(d, "pg_ctl"),
			postgres: filepath.Join(d, "postgres"),
		}
		if isExecutable(b.initdb) && isExecutable(b.pgCtl) && isExecutable(b.postgres) {
			if v := filepath.Base(filepath.Dir(d)); strings.HasPrefix(d, "/usr/lib/postgresql/") {
				b.version = v
			}
			return b, nil
		}
	}
	return binaries{}, ErrNotInstalled
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// EnsureInstalled makes sure PostgreSQL server binaries can be found. When
// they cannot and the process is root on a system with apt-get (Debian), it
// runs `apt-get install -y postgresql`, and `apt-get update` then the
// install again if that fails. Otherwise it returns an error wrapping
// ErrNotInstalled that names the package to install.
func EnsureInstalled(ctx context.Context, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if _, err := findBinaries(); err == nil {
		return nil
	}
	aptGet, err := exec.LookPath("apt-get")
	if os.Geteuid() != 0 || err != nil {
		return fmt.Errorf("pgcluster: %w", ErrNotInstalled)
	}
	install := func() error {
		logger.Info("installing PostgreSQL: apt-get install -y postgresql")
		cmd := exec.CommandContext(ctx, aptGet, "install", "-y", "--no-install-recommends", "postgresql")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get install -y postgresql: %w: %s", err, tail(out, 2000))
		}
		return nil
	}
	if err := install(); err != nil {
		logger.Info("apt-get install failed, running apt-get update first", "err", err)
		cmd := exec.CommandContext(ctx, aptGet, "update")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("pgcluster: apt-get update: %w: %s", err, tail(out, 2000))
		}
		if err := install(); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
	}
	if _, err := findBinaries(); err != nil {
		return fmt.Errorf("pgcluster: after apt-get install: %w", err)
	}
	return nil
}
