package app

import (
	"encoding/base64"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// readSealingKeys loads the extra sealing keys file: one "ID BASE64" per
// line (32-byte keys, ids from 2; id 1 is derived from the secret), blank
// lines and "#" comments ignored. It returns the keys and the highest id.
func readSealingKeys(path string) (map[int][]byte, int, error) {
	if path == "" {
		return nil, 0, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, fmt.Errorf("read sealing keys file: %w", err)
	}
	keys, current := map[int][]byte{}, 0
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		id, err := strconv.Atoi(f[0])
		if len(f) != 2 || err != nil || id < 2 || id > 255 {
			return nil, 0, fmt.Errorf("sealing keys file %s line %d: want \"ID BASE64\" with ID from 2 to 255", path, i+1)
		}
		key, err := base64.StdEncoding.DecodeString(f[1])
		if err != nil || len(key) != 32 {
			return nil, 0, fmt.Errorf("sealing keys file %s line %d: the key must be 32 bytes in base64 (head -c 32 /dev/urandom | base64)", path, i+1)
		}
		keys[id] = key
		current = max(current, id)
	}
	return keys, current, nil
}

// readSecret loads the server secret from path.
func readSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read secret file: %w", err)
	}
	s := []byte(strings.TrimSpace(string(b)))
	if len(s) < 32 {
		return nil, fmt.Errorf("secret file %s holds %d bytes, need at least 32 (e.g. `head -c 48 /dev/urandom | base64 > %s`)", path, len(s), path)
	}
	return s, nil
}
