package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeDeployCommands: every postern command README's "Deploying"
// section gives (in its code blocks and inline code, after `runuser -u
// postern --` or alone) is a command of this binary whose flags parse:
// each is run with --help added, which parses and stops. The section's
// /etc/postern/postern.toml is read as deploy/postern.toml, the file it is
// copied from. `postern doctor` is only logged while this tree has no
// such command (it is being built beside this one).
func TestReadmeDeployCommands(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Deploying\n")
	if !ok {
		t.Fatal("README has no ## Deploying section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	section = strings.ReplaceAll(section, "\\\n", " ")
	found := map[string]bool{}
	// Inline code may wrap; a code block's line may follow runuser.
	inline := regexp.MustCompile("`(?:runuser -u postern -- )?postern ([a-z][^`]*)`")
	block := regexp.MustCompile("(?m)^(?:runuser -u postern -- )?postern ([a-z].*)$")
	for _, m := range append(inline.FindAllStringSubmatch(section, -1), block.FindAllStringSubmatch(section, -1)...) {
		line := strings.ReplaceAll(m[1], "/etc/postern/postern.toml", filepath.Join("..", "..", "deploy", "postern.toml"))
		args := strings.Fields(line)
		found[args[0]] = true
		if _, ok := commands[args[0]]; !ok && args[0] == "doctor" {
			t.Logf("README's %q: no doctor command in this tree yet", "postern "+m[1])
			continue
		}
		err := run(context.Background(), append(args, "--help"), io.Discard, io.Discard)
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("README's %q: %v (want its flags to parse)", "postern "+m[1], err)
		}
	}
	for _, want := range []string{"serve", "migrate", "config", "dkim", "doctor", "inbound", "imap"} {
		if !found[want] {
			t.Errorf("README's Deploying section does not give postern %s", want)
		}
	}
}
