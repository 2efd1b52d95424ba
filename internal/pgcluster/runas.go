package pgcluster

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
)

// pgEnv is the environment the PostgreSQL tools run with: the current one
// without PG*, locale and (when switching user) the identity variables,
// plus LC_ALL=C and the identity of the user run names.
func pgEnv(run runAs) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG=") {
			continue
		}
		if run.switchUser && (strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "USER=") || strings.HasPrefix(kv, "LOGNAME=")) {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "LC_ALL=C")
	if run.switchUser {
		env = append(env, "HOME="+run.home, "USER="+run.name, "LOGNAME="+run.name)
	}
	return env
}

// runAs says which user the PostgreSQL tools run as.
type runAs struct {
	switchUser bool // true when we are root and run them as name
	name       string
	uid, gid   int
	home       string
}

func currentRunAs() (runAs, error) {
	if os.Geteuid() != 0 {
		return runAs{}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return runAs{}, fmt.Errorf("running as root, PostgreSQL must run as the \"postgres\" system user, which was not found (install the Debian package postgresql, or run as a non-root user): %w", err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return runAs{}, fmt.Errorf("user postgres: %w", err)
	}
	home := u.HomeDir
	if home == "" {
		home = "/"
	}
	return runAs{switchUser: true, name: u.Username, uid: uid, gid: gid, home: home}, nil
}

// writeFileAs writes a file owned by the server's user.
func writeFileAs(run runAs, path string, data []byte, perm os.FileMode) error {
	if err := os.WriteFile(path, data, perm); err != nil {
		return err
	}
	if run.switchUser {
		if err := os.Chown(path, run.uid, run.gid); err != nil {
			return fmt.Errorf("chown %s: %w", path, err)
		}
	}
	return nil
}
