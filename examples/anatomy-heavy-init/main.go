// anatomy-heavy-init: a Go Lambda function that imports a package with a heavy init() (see catalog/). Its
// cost shows in `coldlab anatomy` as that package's init time, bytes and allocations, on every cold start.
// ANATOMY_HEAVY_ROUNDS=0 takes the cause away with the same binary.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"

	"example.com/anatomy-heavy-init/catalog"
)

func main() {
	base := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/invocation/"
	for {
		resp, err := http.Get(base + "next")
		if err != nil {
			fmt.Fprintln(os.Stderr, "anatomy-heavy-init: /next failed:", err)
			os.Exit(1)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		out, _ := json.Marshal(map[string]int{"entries": len(catalog.Entries)})
		post, err := http.Post(base+id+"/response", "application/json", bytes.NewReader(out))
		if err != nil {
			fmt.Fprintln(os.Stderr, "anatomy-heavy-init: posting the response failed:", err)
			os.Exit(1)
		}
		post.Body.Close()
	}
}
