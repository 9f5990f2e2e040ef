// extension-go: an external Lambda extension in the Go standard library. It registers for INVOKE and
// SHUTDOWN, subscribes to the Telemetry API (platform and function records) with an HTTP listener of its own,
// keeps every record it is sent in memory, and writes them all out when SHUTDOWN comes: the pattern telemetry
// agents use (a flush at the end, within the 2,000 ms shutdown budget).
//
// Put the binary in a layer's extensions/ directory (or the function's): Lambda, and coldlab, start it before
// the runtime. Its file name is its extension name.
//
// Environment (the function's variables are the extension's too):
//
//	EXTENSION_FLUSH_FILE      where SHUTDOWN writes the records, one JSON record per line, then a line
//	                          "shutdown <reason>" (default: stdout only)
//	EXTENSION_FLUSH_DELAY_MS  how long the flush takes before it writes (to show one cut off by SIGKILL)
//	EXTENSION_INVOKE_MS       how long it works on each INVOKE before it asks for the next event
//	EXTENSION_MODE            to show failures: "crash-on-invoke" exits 3 on INVOKE, "no-next" never asks
//	                          for an event, "init-error" reports /extension/init/error, "refused-destination"
//	                          subscribes with a port nothing listens on
//	EXTENSION_SLOW_FIRST_MS   answer the first telemetry delivery only after this long (a slow subscriber)
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

var (
	api        = "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API")
	mu         sync.Mutex
	records    []json.RawMessage
	deliveries int
)

func envMs(name string) time.Duration {
	ms, _ := strconv.Atoi(os.Getenv(name))
	return time.Duration(ms) * time.Millisecond
}

func must(err error, what string) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "extension-go: %s: %v\n", what, err)
		os.Exit(1)
	}
}

func call(method, path, id string, body []byte, extra map[string]string) (*http.Response, []byte) {
	req, err := http.NewRequest(method, api+path, bytes.NewReader(body))
	must(err, path)
	if id != "" {
		req.Header.Set("Lambda-Extension-Identifier", id)
	}
	for k, v := range extra {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	must(err, path)
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, data
}

// receive is the Telemetry API destination: each POST is a JSON array of records.
func receive(w http.ResponseWriter, r *http.Request) {
	mu.Lock()
	deliveries++
	first := deliveries == 1
	mu.Unlock()
	if first {
		time.Sleep(envMs("EXTENSION_SLOW_FIRST_MS"))
	}
	var batch []json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&batch); err == nil {
		mu.Lock()
		records = append(records, batch...)
		mu.Unlock()
	}
	w.WriteHeader(http.StatusOK)
}

func flush(reason string) {
	if d := envMs("EXTENSION_FLUSH_DELAY_MS"); d > 0 {
		fmt.Printf("extension-go: flushing (takes %v)\n", d)
		time.Sleep(d)
	}
	mu.Lock()
	defer mu.Unlock()
	var out strings.Builder
	for _, rec := range records {
		out.Write(rec)
		out.WriteByte('\n')
	}
	fmt.Fprintf(&out, "shutdown %s\n", reason)
	if path := os.Getenv("EXTENSION_FLUSH_FILE"); path != "" {
		must(os.WriteFile(path, []byte(out.String()), 0o644), "write "+path)
	}
	fmt.Printf("extension-go: flushed %d records\n", len(records))
}

func main() {
	name := filepath.Base(os.Args[0])
	resp, body := call("POST", "/2020-01-01/extension/register", "", []byte(`{"events":["INVOKE","SHUTDOWN"]}`),
		map[string]string{"Lambda-Extension-Name": name})
	if resp.StatusCode != http.StatusOK {
		must(fmt.Errorf("%s: %s", resp.Status, body), "register")
	}
	id := resp.Header.Get("Lambda-Extension-Identifier")

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	must(err, "listen")
	go http.Serve(listener, http.HandlerFunc(receive))
	port := listener.Addr().(*net.TCPAddr).Port
	if os.Getenv("EXTENSION_MODE") == "refused-destination" {
		closed, err := net.Listen("tcp", "127.0.0.1:0")
		must(err, "listen")
		port = closed.Addr().(*net.TCPAddr).Port
		closed.Close()
	}
	subscription := fmt.Sprintf(`{"schemaVersion":"2022-12-13","types":["platform","function"],`+
		`"buffering":{"maxItems":1000,"maxBytes":262144,"timeoutMs":25},`+
		`"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:%d"}}`, port)
	if resp, body := call("PUT", "/2022-07-01/telemetry", id, []byte(subscription), nil); resp.StatusCode != http.StatusOK {
		must(fmt.Errorf("%s: %s", resp.Status, body), "subscribe")
	}

	switch os.Getenv("EXTENSION_MODE") {
	case "no-next":
		select {}
	case "init-error":
		call("POST", "/2020-01-01/extension/init/error", id, []byte(`{"errorMessage":"configuration missing","errorType":"Extension.ConfigInvalid"}`),
			map[string]string{"Lambda-Extension-Function-Error-Type": "Extension.ConfigInvalid"})
		os.Exit(1)
	}
	for {
		_, body := call("GET", "/2020-01-01/extension/event/next", id, nil, nil)
		var event struct {
			EventType      string `json:"eventType"`
			ShutdownReason string `json:"shutdownReason"`
		}
		must(json.Unmarshal(body, &event), "event")
		switch event.EventType {
		case "INVOKE":
			if os.Getenv("EXTENSION_MODE") == "crash-on-invoke" {
				fmt.Println("extension-go: crashing on purpose")
				os.Exit(3)
			}
			time.Sleep(envMs("EXTENSION_INVOKE_MS"))
		case "SHUTDOWN":
			flush(event.ShutdownReason)
			os.Exit(0)
		}
	}
}
