// sigterm-aws-lambda-go: the graceful-shutdown problem in a dozen lines. The handler keeps what it was sent in
// memory (as a batching metrics or log client does), and lambda.WithEnableSIGTERM flushes it when the
// environment is shut down. That works only because WithEnableSIGTERM registers an internal extension
// (GoLangEnableSIGTERM): Lambda sends SIGTERM, with a 500 ms budget, only when an extension is registered.
//
// Environment:
//
//	FLUSH_FILE        where the flush writes the buffered events, one per line (default: stdout only)
//	FLUSH_DELAY_MS    how long the flush takes before it writes (to show a flush cut off by SIGKILL)
//	NO_SIGTERM=1      start with lambda.Start instead: no extension, no SIGTERM, the buffer is lost
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

var (
	mu       sync.Mutex
	buffered []string
)

func handle(ctx context.Context, event json.RawMessage) (map[string]int, error) {
	mu.Lock()
	defer mu.Unlock()
	buffered = append(buffered, string(event))
	return map[string]int{"buffered": len(buffered)}, nil
}

func flush() {
	if ms, err := strconv.Atoi(os.Getenv("FLUSH_DELAY_MS")); err == nil && ms > 0 {
		fmt.Printf("sigterm: flushing %d events (takes %d ms)\n", len(buffered), ms)
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	data := strings.Join(buffered, "\n") + "\n"
	if path := os.Getenv("FLUSH_FILE"); path != "" {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			fmt.Printf("sigterm: cannot write %s: %v\n", path, err)
			return
		}
	}
	fmt.Printf("sigterm: flushed %d events\n", len(buffered))
}

func main() {
	if os.Getenv("NO_SIGTERM") == "1" {
		lambda.Start(handle)
		return
	}
	lambda.StartWithOptions(handle, lambda.WithEnableSIGTERM(flush))
}
