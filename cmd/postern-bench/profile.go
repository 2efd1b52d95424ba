package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// startProfile fetches a CPU profile of Postern covering the next dur
// (Postern serves pprof on loopback for the bench, POSTERN_PPROF_ADDR).
// It returns at once; wait blocks until the profile is written to
// DIR/name.pprof (-profile, else the bench directory) and returns its
// path, "" when none was taken. Read one with `go tool pprof -top PATH`.
func (b *bench) startProfile(ctx context.Context, name string, dur time.Duration) (wait func() string) {
	if b.pprofAddr == "" {
		return func() string { return "" }
	}
	done := make(chan struct{})
	var written string
	go func() {
		defer close(done)
		secs := max(1, int(dur.Seconds()))
		url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", b.pprofAddr, secs)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.log.Warn("profile not taken", "name", name, "err", err)
			return
		}
		defer resp.Body.Close()
		path := filepath.Join(b.profileDir, name+".pprof")
		f, err := os.Create(path)
		if err != nil {
			b.log.Warn("profile not written", "name", name, "err", err)
			return
		}
		_, cerr := io.Copy(f, resp.Body)
		if err := f.Close(); err != nil || cerr != nil {
			b.log.Warn("profile not written", "name", name, "err", cerr)
			return
		}
		b.log.Info("profile written", "path", path)
		written = path
	}()
	return func() string { <-done; return written }
}

// profileRow is a summarised profile for the report.
type profileRow struct {
	title, total string
	lines        []string
}

// addProfile summarises the profile at path (if any) into the report.
func (r *report) addProfile(ctx context.Context, title, path string) {
	if path == "" {
		return
	}
	total, lines, err := summarizeProfile(ctx, path)
	if err != nil {
		r.b.log.Warn("profile not summarised", "path", path, "err", err)
		return
	}
	r.profiles = append(r.profiles, profileRow{title: title, total: total, lines: lines})
}
