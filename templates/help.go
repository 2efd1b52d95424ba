package templates

// ForumAddresses are the forum's own addresses the help mail lists, as
// the store's address type builds them (the category forms with
// CategoryPlaceholder for the slug). The guide's sentences are written
// here, once for the text and the HTML body.
type ForumAddresses struct {
	Ask, AskCategory                 string
	Subscribe, SubscribeCategory     string
	Unsubscribe, UnsubscribeCategory string
	Help                             string
}

// CategoryPlaceholder stands for a category's slug in the guide's
// addresses ("ask+CATEGORY@forum.example").
const CategoryPlaceholder = "CATEGORY"

// HelpAddress is one line of the guide: an address and what it does.
type HelpAddress struct{ Address, What string }

// Guide returns the guide's lines: each address and what it does.
func (a ForumAddresses) Guide() []HelpAddress {
	return []HelpAddress{
		{Address: a.Ask, What: "ask a new question (the subject is the title)"},
		{Address: a.AskCategory, What: "ask in a category; or start the subject with [category]; #tags in the subject or a \"Tags:\" first line add tags"},
		{Address: a.Subscribe, What: "receive every new question by email (you confirm once)"},
		{Address: a.SubscribeCategory, What: "receive the new questions of one category"},
		{Address: a.Unsubscribe, What: "stop all emails; " + a.UnsubscribeCategory + " stops one category"},
		{Address: a.Help, What: "this guide"},
	}
}
