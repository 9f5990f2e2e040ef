// anatomy-lazy-client: the fix for a heavy init, the seed's "lazily initialised client": the expensive client
// is built by sync.OnceValue the first time a request needs it, not in init(). `coldlab anatomy` then shows
// the cost moved out of Init Duration and into the first request's extra Duration.
// ANATOMY_EAGER=1 builds it in init() instead (the same binary, the cause put back).
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
)

// client stands for an SDK client whose construction is expensive (tables, regexps, TLS set-up).
type client struct{ index map[string]string }

func newClient() *client {
	c := &client{index: make(map[string]string, 60000)}
	for i := 0; i < 60000; i++ {
		key := "sku-" + strconv.Itoa(i)
		sum := sha256.Sum256([]byte(key))
		c.index[key] = hex.EncodeToString(sum[:])
	}
	return c
}

// getClient builds the client once, on first use.
var getClient = sync.OnceValue(newClient)

func init() {
	if os.Getenv("ANATOMY_EAGER") == "1" {
		getClient()
	}
}

func main() {
	base := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/invocation/"
	for {
		resp, err := http.Get(base + "next")
		if err != nil {
			fmt.Fprintln(os.Stderr, "anatomy-lazy-client: /next failed:", err)
			os.Exit(1)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		out, _ := json.Marshal(map[string]int{"indexed": len(getClient().index)})
		post, err := http.Post(base+id+"/response", "application/json", bytes.NewReader(out))
		if err != nil {
			fmt.Fprintln(os.Stderr, "anatomy-lazy-client: posting the response failed:", err)
			os.Exit(1)
		}
		post.Body.Close()
	}
}
