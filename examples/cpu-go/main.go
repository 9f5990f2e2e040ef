// cpu-go: a CPU-bound, single-threaded Go Lambda function (standard library only) for power tuning.
//
// Its duration is set by how much CPU time Lambda grants: memory/1769 vCPU. So it halves with doubled
// memory up to 1769 MB and stays flat beyond (one goroutine cannot use a second vCPU).
//
// Event fields (optional): {"cpu_ms": 20} burns that much process CPU time (machine-independent),
// {"iterations": 5000000} does a fixed amount of hashing instead. Default: {"cpu_ms": 20}.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"syscall"
	"time"
)

type event struct {
	CPUMs      float64 `json:"cpu_ms"`
	Iterations int64   `json:"iterations"`
}

type reply struct {
	Iterations int64   `json:"iterations"`
	CPUMs      float64 `json:"cpu_ms"`
	Checksum   uint64  `json:"checksum"`
}

// cpuTime is this process's user+system CPU time: unlike the wall clock, throttling does not advance it.
func cpuTime() time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

// mix is a few rounds of xorshift-multiply: pure ALU work, no allocation, so the GC never runs.
func mix(state uint64, rounds int64) uint64 {
	for i := int64(0); i < rounds; i++ {
		state ^= state >> 33
		state *= 0xff51afd7ed558ccd
		state ^= state >> 29
	}
	return state
}

func handle(body []byte) (reply, error) {
	ev := event{}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &ev); err != nil {
			return reply{}, fmt.Errorf("event is not the JSON object I expect: %w", err)
		}
	}
	state := uint64(0x9e3779b97f4a7c15)
	start := cpuTime()
	var done int64
	if ev.Iterations > 0 {
		state = mix(state, ev.Iterations)
		done = ev.Iterations
	} else {
		budget := time.Duration(ev.CPUMs * float64(time.Millisecond))
		if ev.CPUMs <= 0 {
			budget = 20 * time.Millisecond
		}
		for cpuTime()-start < budget {
			state = mix(state, 20000) // about 20-50 us between clock reads
			done += 20000
		}
	}
	used := float64(cpuTime()-start) / float64(time.Millisecond)
	return reply{Iterations: done, CPUMs: used, Checksum: state}, nil
}

func post(client *http.Client, url string, payload []byte) {
	resp, err := client.Post(url, "application/json", bytes.NewReader(payload))
	if err != nil {
		fmt.Fprintln(os.Stderr, "posting to the Runtime API failed:", err)
		os.Exit(1)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func main() {
	api := os.Getenv("AWS_LAMBDA_RUNTIME_API")
	if api == "" {
		fmt.Fprintln(os.Stderr, "AWS_LAMBDA_RUNTIME_API is not set: run me under coldlab or AWS Lambda")
		os.Exit(1)
	}
	base := "http://" + api + "/2018-06-01/runtime/invocation/"
	client := &http.Client{}
	for { // next → handle → response (or error)
		resp, err := client.Get(base + "next")
		if err != nil {
			fmt.Fprintln(os.Stderr, "waiting for the next event failed:", err)
			os.Exit(1)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		requestID := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		result, err := handle(body)
		if err != nil {
			report, _ := json.Marshal(map[string]string{"errorMessage": err.Error(), "errorType": "errorString"})
			post(client, base+requestID+"/error", report)
			continue
		}
		payload, _ := json.Marshal(result)
		post(client, base+requestID+"/response", payload)
	}
}
