package pipeline

import (
	"context"
	"testing"

	"github.com/postern/postern/threads"
)

// TestThreadPointsPerAuthor: a question page gives every post its
// author's points (computed once per author since a page of one
// prolific author's answers took minutes), the same on each of that
// author's posts, counting answers, a selection on both sides and votes.
func TestThreadPointsPerAuthor(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	alice := confirmedPerson(t, st, "alice@example.org", "Alice")
	carol := confirmedPerson(t, st, "carol@example.net", "Carol")
	dave := confirmedPerson(t, st, "dave@example.net", "Dave")
	pool := st.Pool()
	var q int64
	if err := pool.QueryRow(ctx, `INSERT INTO posts (kind, author_id, title, body, message_id) VALUES ('question', $1, 'Sleep', 'How?', 'q@t') RETURNING id`, alice.ID).Scan(&q); err != nil {
		t.Fatal(err)
	}
	var best int64
	for i, who := range []int64{carol.ID, dave.ID, carol.ID, carol.ID} {
		var id int64
		err := pool.QueryRow(ctx, `INSERT INTO posts (kind, question_id, parent_id, author_id, body, message_id) VALUES ('answer', $1, $1, $2, 'This.', 'a' || $3::int || '@t') RETURNING id`, q, who, i).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			best = id
		}
		if who == dave.ID {
			if _, err := pool.Exec(ctx, `INSERT INTO votes (post_id, person_id, value) VALUES ($1, $2, 1)`, id, alice.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := pool.Exec(ctx, `UPDATE posts SET best_answer_id = $2 WHERE id = $1`, q, best); err != nil {
		t.Fatal(err)
	}
	th, err := st.GetThread(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if want := threads.PointsBase + threads.PointsPostQuestion + threads.PointsSelectAnswer; th.AuthorPoints != want {
		t.Errorf("asker's points %d, want %d", th.AuthorPoints, want)
	}
	if len(th.Answers) != 4 {
		t.Fatalf("%d answers, want 4", len(th.Answers))
	}
	want := map[int64]int{carol.ID: threads.PointsBase + 3*threads.PointsPostAnswer + threads.PointsAnswerSelected,
		dave.ID: threads.PointsBase + threads.PointsPostAnswer + threads.PointsAnswerVote}
	for _, a := range th.Answers {
		if a.AuthorPoints != want[a.AuthorID] {
			t.Errorf("answer %d by %s: points %d, want %d", a.ID, a.Author, a.AuthorPoints, want[a.AuthorID])
		}
	}
}
