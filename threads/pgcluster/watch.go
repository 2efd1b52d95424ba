package pgcluster

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// watchScript waits for process $1 to exit, then shuts down (fast) the
// postmaster of data directory $2, waits for it to exit and, when $3 is 1,
// removes directory $4.
const watchScript = `
parent=$1 data=$2 rmdir=$3 dir=$4
while kill -0 "$parent" 2>/dev/null; do sleep 1; done
pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null) || pid=
if [ -n "$pid" ] && kill -INT "$pid" 2>/dev/null; then
	i=0
	while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 300 ]; do sleep 0.2; i=$((i+1)); done
	kill -0 "$pid" 2>/dev/null && kill -QUIT "$pid" 2>/dev/null
	sleep 1
fi
if [ "$rmdir" = 1 ]; then rm -rf -- "$dir"; fi
`

// StopOnExit starts a small detached watcher process that, should this
// process exit without calling Stop (killed, or a test binary that timed
// out), shuts the server down and, when removeDir is true, removes Dir. Stop
// ends the watcher. It is meant for throw-away test clusters; calling it
// more than once does nothing more.
func (c *Cluster) StopOnExit(removeDir bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.watcher != nil || c.stopped {
		return nil
	}
	rm := "0"
	if removeDir {
		rm = "1"
	}
	cmd := exec.Command("/bin/sh", "-c", watchScript, "pgcluster-watch",
		strconv.Itoa(os.Getpid()), c.dataDir, rm, c.dir)
	cmd.Dir = "/"
	// Its own session: a Ctrl-C to our process group must not end it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgcluster: start exit watcher: %w", err)
	}
	c.watcher = cmd
	return nil
}

func (c *Cluster) stopWatcherLocked() {
	if c.watcher == nil {
		return
	}
	if err := c.watcher.Process.Kill(); err != nil {
		c.logger.Warn("could not end exit watcher", "err", err)
	}
	_ = c.watcher.Wait() // reap it; "killed" is the expected error
	c.watcher = nil
}
