package threads

// Threading: the pure helpers that place a reply (Placement), pick the
// Message-IDs it may answer (CandidateIDs) and title a new question
// (QuestionTitle), with their tests in threading_test.go.

import (
	"regexp"
	"strings"
)

// PostKind is a post's kind.
type PostKind string

// Post kinds, as Question2Answer has them.
const (
	KindQuestion PostKind = "question"
	KindAnswer   PostKind = "answer"
	KindComment  PostKind = "comment"
)

// ParentRef is what routing needs to know of the post a reply targets.
type ParentRef struct {
	ID         int64
	Kind       PostKind
	QuestionID int64 // the question's id (== ID for a question)
	ParentID   int64 // for a comment: the post it comments on
	State      string

	// Loaded with the post by the process path (zero elsewhere).
	AuthorID      int64  // the post's author
	QuestionState string // the question's state (closed takes no replies)
	AskerID       int64  // the question's author
}

// Placement says where a reply to target goes: the kind of the new post and
// its parent. Replying to a question makes an answer; replying to an answer
// makes a comment on that answer; replying to a comment makes a comment on
// the comment's parent (comments do not nest, as in Question2Answer).
func Placement(target ParentRef) (kind PostKind, parentID, questionID int64) {
	switch target.Kind {
	case KindQuestion:
		return KindAnswer, target.ID, target.ID
	case KindAnswer:
		return KindComment, target.ID, target.QuestionID
	default:
		p := target.ParentID
		if p == 0 {
			p = target.QuestionID
		}
		return KindComment, p, target.QuestionID
	}
}

// CandidateIDs returns the Message-IDs to look up for threading, in order of
// preference: In-Reply-To first, then References from the last (most
// recent) to the first. Duplicates are dropped.
func CandidateIDs(inReplyTo, references []string) []string {
	out := make([]string, 0, len(inReplyTo)+len(references))
	seen := map[string]bool{}
	add := func(id string) {
		id = CleanMessageID(id)
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	for _, id := range inReplyTo {
		add(id)
	}
	for i := len(references) - 1; i >= 0; i-- {
		add(references[i])
	}
	return out
}

var subjectPrefix = regexp.MustCompile(`(?i)^\s*((re|fw|fwd|aw|wg|sv|vs|tr|rif|res|antw|odp)\s*(\[\d+\])?\s*[:：]\s*)+`)

// QuestionTitle returns the title for a new question from its subject:
// reply/forward prefixes removed, every address-like string replaced with
// "[address removed]" (see redactAllAddresses), white space collapsed, at
// most 200 characters; "(no subject)" when nothing is left.
func QuestionTitle(subject string) string {
	t := redactAllAddresses(subjectPrefix.ReplaceAllString(subject, ""))
	t = strings.Join(strings.Fields(t), " ")
	if r := []rune(t); len(r) > 200 {
		t = string(r[:200])
	}
	if t == "" {
		return "(no subject)"
	}
	return t
}
