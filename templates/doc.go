// Package templates holds every text that a person reads in Postern: the
// notification mails (subject, plain text and HTML bodies), the help
// guide (ForumAddresses.Guide), the note of a postmaster forward
// (PostmasterForward), and the HTML pages served by the web endpoints
// with their sentences (Notice, StopForm, ConfirmForm, Stopped). Callers
// pass data and codes (a mailkind.Kind, a Notice); the sentences are
// here. It imports nothing of Postern's but threads/mailkind.
//
// The template files are embedded in the binary and parsed once by New.
// Mail kinds live under mail/ as three files each:
//
//	mail/NAME.subject.tmpl  text/template, rendered to a single line
//	mail/NAME.txt.tmpl      text/template, the text/plain body
//	mail/NAME.html.tmpl     html/template, the text/html body (auto-escaped)
//
// Files whose name starts with an underscore are shared partials (the
// Footer with the reply instructions, unsubscribe link and privacy line,
// and the HTML frame). Pages live under page/NAME.html.tmpl and share the
// page/_*.html.tmpl partials.
//
// The mails carry no external resources and no tracking: no images, no
// style sheets, no pixels; the only links are the thread and the
// unsubscribe URLs given in MailData.
package templates
