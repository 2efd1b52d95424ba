// Package browsertest drives Debian's headless Chromium (/usr/bin/chromium,
// installed by `make ensure-chromium`) with chromedp against a running
// Postern (the systemtest harness: real PostgreSQL, SMTP, HTTP) and checks
// the public pages as a browser shows them. One browser serves the whole
// package; each test opens its own tab.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/postern/postern/internal/threadstest"
)

// chromiumPath is Debian's Chromium; nothing is downloaded.
const chromiumPath = "/usr/bin/chromium"

// browser is the package's one browser, started by TestMain (nil when
// Chromium is missing: the tests then fail, saying so).
var browser context.Context

// TestMain starts the browser, then runs the tests through
// threadstest.Main, which exits the process: the kernel then kills the
// browser (chromedp starts it with Pdeathsig on Linux).
func TestMain(m *testing.M) {
	if err := startBrowser(); err != nil {
		fmt.Fprintln(os.Stderr, "browsertest:", err)
	}
	threadstest.Main(m)
}

// startBrowser starts the package's browser.
func startBrowser() error {
	if _, err := os.Stat(chromiumPath); err != nil {
		return fmt.Errorf("no %s (run `make ensure-chromium`)", chromiumPath)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-extensions", true))
	alloc, _ := chromedp.NewExecAllocator(context.Background(), opts...) // lives as long as the process
	ctx, _ := chromedp.NewContext(alloc)
	if _, err := chromedp.Run(ctx, chromedp.Title()); err != nil {
		return fmt.Errorf("start chromium: %w", err)
	}
	browser = ctx
	return nil
}
