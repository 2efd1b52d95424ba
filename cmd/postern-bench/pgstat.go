package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// statementSettings load pg_stat_statements into the bench's cluster
// (-pg-statements): a profile of the database side of a scenario.
var statementSettings = []string{
	"shared_preload_libraries = 'pg_stat_statements'",
	"pg_stat_statements.track = all",
	"pg_stat_statements.max = 1000",
}

// stmtRow is one statement's share of the database's time.
type stmtRow struct {
	query        string
	perMessage   float64 // calls per message handled
	meanMs       float64
	share        float64 // of the total execution time
	rowsPerCalls float64
}

// resetStatements empties pg_stat_statements (no-op without -pg-statements).
func (b *bench) resetStatements(ctx context.Context) error {
	if !b.opts.pgStatements {
		return nil
	}
	if _, err := b.pool.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
		return fmt.Errorf("pg_stat_statements: %w", err)
	}
	if _, err := b.pool.Exec(ctx, `SELECT pg_stat_statements_reset()`); err != nil {
		return fmt.Errorf("pg_stat_statements reset: %w", err)
	}
	return nil
}

var spaces = regexp.MustCompile(`\s+`)

// topStatements returns the n statements that took the most execution
// time since resetStatements, per message handled (messages).
func (b *bench) topStatements(ctx context.Context, n int, messages int64) ([]stmtRow, error) {
	if !b.opts.pgStatements || messages <= 0 {
		return nil, nil
	}
	rows, err := b.pool.Query(ctx, `SELECT query, calls, total_exec_time, rows,
			total_exec_time / nullif(sum(total_exec_time) OVER (), 0), sum(calls) OVER (), sum(total_exec_time) OVER ()
		FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		ORDER BY total_exec_time DESC LIMIT $1`, n)
	if err != nil {
		return nil, fmt.Errorf("pg_stat_statements: %w", err)
	}
	defer rows.Close()
	var out []stmtRow
	var allCalls, allTotal float64
	for rows.Next() {
		var q string
		var calls, nrows int64
		var total float64
		var share *float64
		if err := rows.Scan(&q, &calls, &total, &nrows, &share, &allCalls, &allTotal); err != nil {
			return nil, fmt.Errorf("pg_stat_statements: %w", err)
		}
		q = strings.TrimSpace(spaces.ReplaceAllString(q, " "))
		q = shorten(q, 90)
		r := stmtRow{query: q, perMessage: float64(calls) / float64(messages)}
		if calls > 0 {
			r.meanMs = total / float64(calls)
			r.rowsPerCalls = float64(nrows) / float64(calls)
		}
		if share != nil {
			r.share = *share
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil || len(out) == 0 {
		return out, err
	}
	// Every statement of the database (intake, processing, sending and
	// this harness's polls), for the statements per message.
	all := stmtRow{query: "(all statements)", perMessage: allCalls / float64(messages), share: 1}
	if allCalls > 0 {
		all.meanMs = allTotal / allCalls
	}
	return append(out, all), nil
}

// shorten cuts q to at most n bytes at a character boundary, marking the
// cut with an ellipsis (a byte cut could split a UTF-8 sequence).
func shorten(q string, n int) string {
	if len(q) <= n {
		return q
	}
	for n > 0 && !utf8.RuneStart(q[n]) {
		n--
	}
	return q[:n] + "…"
}
