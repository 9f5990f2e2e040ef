// anatomy-network-init: a Go Lambda function whose init() calls out over the network before the runtime asks
// for work, the seed's "network at init" case. `coldlab anatomy` finds the calls (strace) and says what they
// cost on every cold start.
//
// ANATOMY_CONFIG_URL (e.g. http://config.anatomy.test:8080/config): fetched during init; unset, init makes no
// call. ANATOMY_DNS (host:port): the DNS server that resolves the URL's host (Go's own resolver asks it), so
// the lookup is a real DNS exchange even against a local stub. The handler answers with what init fetched.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

var fetched string // what init got from the configuration service

func init() {
	url := os.Getenv("ANATOMY_CONFIG_URL")
	if url == "" {
		return
	}
	dialer := &net.Dialer{Timeout: 2 * time.Second}
	if dns := os.Getenv("ANATOMY_DNS"); dns != "" {
		dialer.Resolver = &net.Resolver{
			PreferGo: true,
			Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, "udp", dns)
			},
		}
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext}}
	resp, err := client.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "anatomy-network-init: fetching the configuration failed:", err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fetched = string(body)
}

func main() {
	base := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/invocation/"
	for {
		resp, err := http.Get(base + "next")
		if err != nil {
			fmt.Fprintln(os.Stderr, "anatomy-network-init: /next failed:", err)
			os.Exit(1)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		out, _ := json.Marshal(map[string]string{"config": fetched})
		post, err := http.Post(base+id+"/response", "application/json", bytes.NewReader(out))
		if err != nil {
			fmt.Fprintln(os.Stderr, "anatomy-network-init: posting the response failed:", err)
			os.Exit(1)
		}
		post.Body.Close()
	}
}
