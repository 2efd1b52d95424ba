package mailin

import (
	"errors"
	"fmt"

	"github.com/emersion/go-smtp"
)

// replyOutcome is the metrics outcome of a refusing reply: deferred
// (4xx) or refused (5xx).
func replyOutcome(err error) string {
	if c := code(err); c >= 400 && c < 500 {
		return "deferred"
	}
	return "refused"
}

// code is the reply code of err (an *smtp.SMTPError), or 0.
func code(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// enhanced is the enhanced status code of err (an *smtp.SMTPError) as
// "C.S.D", or "none".
func enhanced(err error) string {
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.EnhancedCode != smtp.NoEnhancedCode && se.EnhancedCode != (smtp.EnhancedCode{}) {
		return fmt.Sprintf("%d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
	}
	return "none"
}
