// Package catalog builds a large lookup table in its init(), the seed's "heavy init()" case: the work runs on
// every cold start, before main, whether or not a request ever needs it.
package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strconv"
)

// Entries maps a product code to its digest; filled by init.
var Entries map[string]string

// Rounds is how many entries init builds (ANATOMY_HEAVY_ROUNDS; 0 makes init do nothing).
var Rounds = 60000

func init() {
	if v, err := strconv.Atoi(os.Getenv("ANATOMY_HEAVY_ROUNDS")); err == nil && v >= 0 {
		Rounds = v
	}
	Entries = make(map[string]string, Rounds)
	for i := 0; i < Rounds; i++ {
		key := "sku-" + strconv.Itoa(i)
		sum := sha256.Sum256([]byte(key))
		Entries[key] = hex.EncodeToString(sum[:])
	}
}
