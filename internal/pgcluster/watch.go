package pgcluster

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// watchScript waits for end of file on its standard input, a pipe whose
// write end only the parent holds (close-on-exec: no other child inherits
// it), so EOF comes the moment the parent exits, however it exits (SIGKILL
// included), and never while it lives (no pid to be reused). It then shuts
// down (fast) the postmaster of data directory $1, waits for it to exit
// and, when $2 is 1, removes directory $3.
const watchScript = `
data=$1 rmdir=$2 dir=$3
while read -r _; do :; done
pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null) || pid=
if [ -n "$pid" ] && kill -INT "$pid" 2>/dev/null; then
	i=0
	while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 300 ]; do sleep 0.2; i=$((i+1)); done
	if kill -0 "$pid" 2>/dev/null; then kill -QUIT "$pid" 2>/dev/null; sleep 1; fi
fi
if [ "$rmdir" = 1 ]; then rm -rf -- "$dir"; fi
`

// StopOnExit starts a small detached watcher process that, should this
// process exit without calling Stop (killed, even by SIGKILL, or a test
// binary that timed out), shuts the server down at once and, when removeDir
// is true, removes Dir. Stop ends the watcher. `postern dev` uses it so its
// private server dies with it; tests use it for throw-away clusters.
// Calling it more than once does nothing more.
//
// The watcher inherits the files in hold and keeps them open until it has
// shut the server down: `postern dev` passes its data folder's lock file,
// so that a flock on it outlives a killed `postern dev` until its server is
// gone.
func (c *Cluster) StopOnExit(removeDir bool, hold ...*os.File) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.watcher != nil || c.stopped {
		return nil
	}
	rm := "0"
	if removeDir {
		rm = "1"
	}
	cmd := exec.Command("/bin/sh", "-c", watchScript, "pgcluster-watch", c.dataDir, rm, c.dir)
	cmd.Dir = "/"
	// Its own session: a Ctrl-C to our process group must not end it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.ExtraFiles = hold
	w, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("pgcluster: exit watcher pipe: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgcluster: start exit watcher: %w", err)
	}
	// Held (never written) for as long as the cluster runs: dropping it
	// would let a finalizer close it and fire the watcher.
	c.watcher, c.watchPipe = cmd, w
	return nil
}

func (c *Cluster) stopWatcherLocked() {
	if c.watcher == nil {
		return
	}
	if err := c.watcher.Process.Kill(); err != nil {
		c.logger.Warn("could not end exit watcher", "err", err)
	}
	_ = c.watcher.Wait() // reap it ("killed" is the expected error); closes the pipe
	c.watcher, c.watchPipe = nil, nil
}
