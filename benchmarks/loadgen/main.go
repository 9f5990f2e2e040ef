// loadgen: N keep-alive HTTP clients POSTing one body to one URL for a while, as fast as they are answered.
//
// The serve throughput benchmark's load generator: Go's net/http costs a few tens of microseconds per
// request, so the 2 cores go to the server and the functions being measured, not to the client.
// Prints one JSON line: {"ok": N, "throttled": N, "errors": N, "seconds": S}.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	url := flag.String("url", "", "the URL to POST to")
	clients := flag.Int("clients", 32, "concurrent clients, one request in flight each")
	seconds := flag.Float64("seconds", 10, "how long to send")
	body := flag.String("body", "{}", "the request body")
	flag.Parse()
	if *url == "" {
		fmt.Fprintln(os.Stderr, "loadgen: -url is required")
		os.Exit(2)
	}
	transport := &http.Transport{MaxIdleConnsPerHost: *clients, MaxConnsPerHost: *clients}
	client := &http.Client{Transport: transport, Timeout: 60 * time.Second}
	var ok, throttled, failed atomic.Int64
	stop := time.Now().Add(time.Duration(*seconds * float64(time.Second)))
	started := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < *clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			payload := []byte(*body)
			for time.Now().Before(stop) {
				resp, err := client.Post(*url, "application/json", bytes.NewReader(payload))
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusOK:
					ok.Add(1)
				case http.StatusTooManyRequests:
					throttled.Add(1)
				default:
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"ok": ok.Load(), "throttled": throttled.Load(), "errors": failed.Load(),
		"seconds": time.Since(started).Seconds(),
	})
}
