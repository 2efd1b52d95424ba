package threads

import "github.com/postern/postern/internal/config"

// testConfig is the store configuration of the tests: internal/config's
// defaults (the one place they are written) for testDomain and secret.
func testConfig(secret []byte) Config {
	c := config.Default()
	c.Forum.Domain = testDomain
	return ConfigFrom(c, secret)
}
