package threads

import (
	"regexp"
	"strings"
)

// CommandKind is a command a member can send by email.
type CommandKind int

// Commands recognised in a reply. A reply is a command only when its whole
// trimmed text is the command: a line "+1" inside a longer answer is text.
const (
	CmdNone             CommandKind = iota
	CmdUnsubscribe                  // "unsubscribe" / "stop": this thread
	CmdUnsubscribeAll               // "unsubscribe all" / "stop all"
	CmdAccept                       // "accept" / "best": select this answer as best
	CmdUnaccept                     // "unaccept": undo the selection
	CmdVoteUp                       // "+1"
	CmdVoteDown                     // "-1"
	CmdEdit                         // "edit" on the first line, the new text below
	CmdApprove                      // moderators: "approve"
	CmdReject                       // moderators: "reject REASON"
	CmdHelp                         // "help" or "?"
	CmdConfirmationsOn              // "confirmations on": one-line confirmations of commands
	CmdConfirmationsOff             // "confirmations off"
	CmdUnknown                      // "!word" or "/word" that is no command: answered with the guide
	CmdNotify                       // "notify questions|answers|comments on|off": Question2Answer's preferences
)

// Command is a parsed command with its argument (the new text of an edit,
// the reason of a rejection, the preference of CmdNotify) and, for
// CmdNotify, whether it turns the preference on.
type Command struct {
	Kind CommandKind
	Arg  string
	On   bool
}

var commandWord = regexp.MustCompile(`^[!/][a-z+-]+$`)

// ParseCommand recognises a command in the trimmed text of a reply.
// Matching ignores case, surrounding white space and a final "." or "!".
func ParseCommand(text string) Command {
	text = strings.TrimSpace(text)
	first, rest, _ := strings.Cut(text, "\n")
	if strings.EqualFold(strings.TrimSpace(first), "edit") {
		if body := strings.TrimSpace(rest); body != "" {
			return Command{Kind: CmdEdit, Arg: body}
		}
		return Command{Kind: CmdNone}
	}
	if strings.Contains(text, "\n") {
		return Command{Kind: CmdNone}
	}
	line := strings.ToLower(strings.TrimRight(text, ".! "))
	f := strings.Fields(line)
	if len(f) == 0 {
		return Command{Kind: CmdNone}
	}
	switch {
	case len(f) == 1:
		switch f[0] {
		case "unsubscribe", "stop":
			return Command{Kind: CmdUnsubscribe}
		case "accept", "best":
			return Command{Kind: CmdAccept}
		case "unaccept":
			return Command{Kind: CmdUnaccept}
		case "+1":
			return Command{Kind: CmdVoteUp}
		case "-1":
			return Command{Kind: CmdVoteDown}
		case "approve":
			return Command{Kind: CmdApprove}
		case "reject":
			return Command{Kind: CmdReject}
		case "help", "?":
			return Command{Kind: CmdHelp}
		}
		if commandWord.MatchString(f[0]) {
			if c := ParseCommand(f[0][1:]); c.Kind != CmdNone {
				return c
			}
			return Command{Kind: CmdUnknown, Arg: f[0]}
		}
	case len(f) == 2 && (f[0] == "unsubscribe" || f[0] == "stop") && (f[1] == "all" || f[1] == "everything"):
		return Command{Kind: CmdUnsubscribeAll}
	case len(f) == 3 && f[0] == "notify" && (f[1] == "questions" || f[1] == "answers" || f[1] == "comments") && (f[2] == "on" || f[2] == "off"):
		return Command{Kind: CmdNotify, Arg: f[1], On: f[2] == "on"}
	case len(f) == 2 && f[0] == "confirmations" && f[1] == "on":
		return Command{Kind: CmdConfirmationsOn}
	case len(f) == 2 && f[0] == "confirmations" && f[1] == "off":
		return Command{Kind: CmdConfirmationsOff}
	case f[0] == "reject":
		// Keep the reason's case.
		return Command{Kind: CmdReject, Arg: strings.TrimSpace(strings.TrimSpace(text)[len("reject"):])}
	}
	return Command{Kind: CmdNone}
}

// UnsubscribeCommand recognises a reply whose whole text is an
// unsubscribe command: "unsubscribe" or "stop" (this thread), with "all"
// or "everything" (every email). It returns "", "thread" or "all".
func UnsubscribeCommand(body string) string {
	f := strings.Fields(strings.ToLower(strings.Trim(strings.TrimSpace(body), ".!")))
	if len(f) == 0 || len(f) > 2 || (f[0] != "unsubscribe" && f[0] != "stop") {
		return ""
	}
	if len(f) == 1 {
		return "thread"
	}
	if f[1] == "all" || f[1] == "everything" {
		return "all"
	}
	return ""
}

// ParseTags extracts a question's category and tags from its subject and
// body, as Question2Answer allows them: a "[slug]" at the start of the
// subject chooses the category; "#tag" words in the subject and a "Tags:"
// line at the top of the body add tags (at most 5, lower-cased, unique).
// It returns the subject without the "[slug]" and "#tag" words, and the
// body without the "Tags:" line.
func ParseTags(subject, body string) (title, slug string, tags []string, rest string) {
	title = strings.TrimSpace(subject)
	if strings.HasPrefix(title, "[") {
		if end := strings.IndexByte(title, ']'); end > 1 {
			cand := strings.ToLower(strings.TrimSpace(title[1:end]))
			if validSlug(cand) {
				slug = cand
				title = strings.TrimSpace(title[end+1:])
			}
		}
	}
	seen := map[string]bool{}
	add := func(t string) {
		t = strings.ToLower(strings.Trim(t, "#,;. "))
		if t != "" && validSlug(t) && !seen[t] && len(tags) < 5 {
			seen[t] = true
			tags = append(tags, t)
		}
	}
	var words []string
	for _, w := range strings.Fields(title) {
		if strings.HasPrefix(w, "#") && len(w) > 1 {
			add(w)
			continue
		}
		words = append(words, w)
	}
	title = strings.Join(words, " ")
	rest = body
	trimmed := strings.TrimLeft(body, " \t\r\n")
	if first, after, _ := strings.Cut(trimmed, "\n"); len(first) > 5 && strings.EqualFold(first[:5], "tags:") {
		for _, t := range strings.FieldsFunc(first[5:], func(r rune) bool { return r == ',' || r == ' ' || r == ';' }) {
			add(t)
		}
		rest = strings.TrimLeft(after, "\r\n")
	}
	return title, slug, tags, rest
}

// validSlug reports whether s is a category slug or tag: 1-40 of a-z, 0-9,
// '-' and '_'.
func validSlug(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
