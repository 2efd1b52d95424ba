// Package codesize holds one test, TestSizes: no production function of
// the repository is longer than MaxFuncLines and no production file longer
// than MaxFileLines (the code standard README states under "Two commands"). Test
// files, testdata and the go-smtp fork under internal/go-smtp (upstream's
// code, kept close to it) are not counted. It has no production code.
package codesize

// Limits of the code standard.
const (
	MaxFuncLines = 80
	MaxFileLines = 600
)
