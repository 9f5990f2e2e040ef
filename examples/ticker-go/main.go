// ticker-go: a background goroutine ticks every 10 ms from init on; each invocation answers how many ticks
// happened since the previous one and the longest gap between two ticks. Under Lambda (and coldlab) the
// process is frozen between invocations, so ticks do not pile up while idle and the first tick after a
// thaw arrives late (the gap is about as long as the freeze).
//
// Event: {"wait_ms": 30} waits inside the invocation so the ticker gets to run (default 30).
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

var (
	mu       sync.Mutex
	ticks    int
	sinceAck int
	maxGap   time.Duration
	lastTick = time.Now()
)

func tick() {
	t := time.NewTicker(10 * time.Millisecond)
	for now := range t.C {
		mu.Lock()
		ticks++
		sinceAck++
		if gap := now.Sub(lastTick); gap > maxGap {
			maxGap = gap
		}
		lastTick = now
		mu.Unlock()
	}
}

type reply struct {
	Ticks       int     `json:"ticks"`
	SinceLast   int     `json:"since_last"`
	MaxGapMs    float64 `json:"max_gap_ms"`
	WallSinceMs float64 `json:"wall_since_last_ms"`
}

var lastInvoke = time.Now()

func handle(body []byte) reply {
	var ev struct {
		WaitMs *int `json:"wait_ms"`
	}
	_ = json.Unmarshal(body, &ev)
	wait := 30
	if ev.WaitMs != nil {
		wait = *ev.WaitMs
	}
	time.Sleep(time.Duration(wait) * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	r := reply{
		Ticks: ticks, SinceLast: sinceAck,
		MaxGapMs:    float64(maxGap.Microseconds()) / 1000,
		WallSinceMs: float64(time.Since(lastInvoke).Microseconds()) / 1000,
	}
	sinceAck, maxGap, lastInvoke = 0, 0, time.Now()
	return r
}

func main() {
	go tick()
	api := os.Getenv("AWS_LAMBDA_RUNTIME_API")
	if api == "" {
		fmt.Fprintln(os.Stderr, "AWS_LAMBDA_RUNTIME_API is not set: run me under coldlab or AWS Lambda")
		os.Exit(1)
	}
	base := "http://" + api + "/2018-06-01/runtime/invocation/"
	for {
		resp, err := http.Get(base + "next")
		if err != nil {
			fmt.Fprintln(os.Stderr, "waiting for the next event failed:", err)
			os.Exit(1)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		payload, _ := json.Marshal(handle(body))
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		if r, err := http.Post(base+id+"/response", "application/json", bytes.NewReader(payload)); err == nil {
			io.Copy(io.Discard, r.Body)
			r.Body.Close()
		}
	}
}
