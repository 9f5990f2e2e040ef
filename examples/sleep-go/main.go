// sleep-go: a sleep-bound Go Lambda function (standard library only) for power tuning.
//
// It waits instead of computing (like a function waiting on a database or an HTTP call), so more memory
// buys no speed: its duration is flat across memory sizes and the cheapest size, 128 MB, wins on cost.
//
// Event fields (optional): {"sleep_ms": 20}. Default: 20 ms.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

type event struct {
	SleepMs *int `json:"sleep_ms"`
}

func handle(body []byte) (map[string]int, error) {
	ev := event{}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &ev); err != nil {
			return nil, fmt.Errorf("event is not the JSON object I expect: %w", err)
		}
	}
	sleep := 20
	if ev.SleepMs != nil {
		sleep = *ev.SleepMs
	}
	time.Sleep(time.Duration(sleep) * time.Millisecond)
	return map[string]int{"slept_ms": sleep}, nil
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
