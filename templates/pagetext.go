package templates

import "fmt"

// The sentences of the web pages (page/message.html.tmpl titles and
// messages), kept here with the templates so that every text a person
// reads is in this package. Plain text: the page escapes it.
const (
	PageNotFoundTitle = "Page not found"
	PageNotFound      = "There is no page here. The question may have been removed, or is not published yet."

	PageBadLinkTitle   = "Link not valid"
	PageBadUnsubscribe = "This unsubscribe link is invalid or has expired. Reply \"unsubscribe\" to any notification instead."
	PageBadConfirm     = "This confirmation link is invalid or has expired."

	PageBadRequestTitle = "Bad request"
	PageBadRequest      = "The request could not be read."

	PageTryAgainTitle       = "Please try again"
	PageTryAgainUnsubscribe = "We could not record your request just now. Please try again in a minute."
	PageTryAgainConfirm     = "We could not record your confirmation just now. Please try again in a minute."
	PageTryAgainRead        = "This page could not be loaded just now. Please try again in a minute."

	PageStopTitle         = "Stop these emails?"
	PageStopQuestion      = "Choose whether to stop emails about this question only, or all emails from this forum."
	PageStopFollows       = "Choose whether to stop the emails about new questions that you follow (this one came from them), or all emails from this forum."
	PageUnsubscribedTitle = "Unsubscribed"

	PageConfirmTitle       = "Confirm your address"
	PageConfirm            = "Press the button to confirm that you wrote to the forum. Your held message is then published."
	PageConfirmedTitle     = "Confirmed"
	PageConfirmed          = "Your address is confirmed. From now on your messages are published directly."
	PageConfirmedPublished = "Your address is confirmed and your message is published. From now on your messages are published directly."
)

// HumanSize formats a byte count for people ("1.5 MB", "12 KB", "300 bytes").
func HumanSize(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
