package templates

import "fmt"

// SearchMaxChars is the longest search query, in characters, the search
// accepts (the search box's maxlength); a longer one gets SearchTooLong.
const SearchMaxChars = 200

// The sentences of the search page (package web picks one, the words are
// here).
const (
	// SearchHeading is the search page's <h1> without a query.
	SearchHeading = "Search"
	// SearchEmptyQuery is what the search page says without a query.
	SearchEmptyQuery = "Type a few words in the search box to find questions, answers and comments."
	// SearchNoResults is what it says when the query found nothing.
	SearchNoResults = "No question matches your search. Try other or fewer words."
)

// SearchTooLong is what the search page says of a query over
// SearchMaxChars characters.
var SearchTooLong = fmt.Sprintf("Your search is too long: please use at most %d characters.", SearchMaxChars)

// SearchHead is the <head> of the search page for query q ("" none).
func SearchHead(forum, q string) Head {
	if q == "" {
		return Head{Title: SearchHeading + " - " + forum}
	}
	return Head{Title: "Search: " + q + " - " + forum, Query: q, NoIndex: true}
}

// SearchResultsHeading is the search page's <h1> for query q.
func SearchResultsHeading(q string) string { return "Questions matching \u201c" + q + "\u201d" }

// FeedTitle is the title of the Atom feed of forum's new questions, or of
// those of category ("" the whole forum).
func FeedTitle(forum, category string) string {
	if category == "" {
		return "New questions - " + forum
	}
	return "New questions in " + category + " - " + forum
}
