// hello-go: a Go Lambda function that speaks the Runtime API itself, with only the standard library.
//
// It shows what a cold start is from inside: the package-level coldStart flag is true only for the first
// invocation an execution environment serves (logged as cold_start=true once per environment).
//
// Event fields (all optional): {"name": "...", "fail": true, "sleep_ms": 50, "crash": true, "size": 1024}
// "fail" reports a handler error through /error; "crash" exits mid-invoke; "size" pads the response.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"
)

// coldStart is set when the process starts and cleared after the first invocation: package-level state
// survives between invocations because Lambda freezes the process instead of restarting it.
var coldStart = true

type event struct {
	Name    string `json:"name"`
	Fail    bool   `json:"fail"`
	Crash   bool   `json:"crash"`
	SleepMs int    `json:"sleep_ms"`
	Size    int    `json:"size"`
}

type reply struct {
	Message    string `json:"message"`
	ColdStart  bool   `json:"cold_start"`
	RequestID  string `json:"request_id"`
	DeadlineMs string `json:"deadline_ms"`
	MemoryMB   string `json:"memory_mb"`
	GoVersion  string `json:"go_version"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	Padding    string `json:"padding,omitempty"`
}

// stackFrame is the shape aws-lambda-go sends for stackTrace entries (objects, not strings).
type stackFrame struct {
	Path  string `json:"path"`
	Line  int    `json:"line"`
	Label string `json:"label"`
}

type errorReport struct {
	ErrorMessage string       `json:"errorMessage"`
	ErrorType    string       `json:"errorType"`
	StackTrace   []stackFrame `json:"stackTrace"`
}

func handle(requestID string, headers http.Header, body []byte) (any, error) {
	var ev event
	if len(body) > 0 {
		if err := json.Unmarshal(body, &ev); err != nil {
			return nil, fmt.Errorf("event is not the JSON object I expect: %w", err)
		}
	}
	fmt.Printf("cold_start=%t request_id=%s\n", coldStart, requestID)
	wasCold := coldStart
	coldStart = false
	if ev.SleepMs > 0 {
		time.Sleep(time.Duration(ev.SleepMs) * time.Millisecond)
	}
	if ev.Crash {
		fmt.Fprintln(os.Stderr, "crashing on purpose")
		os.Exit(3)
	}
	if ev.Fail {
		return nil, fmt.Errorf("failing on purpose for %q", ev.Name)
	}
	name := ev.Name
	if name == "" {
		name = "world"
	}
	return reply{
		Message:    "hello, " + name,
		ColdStart:  wasCold,
		RequestID:  requestID,
		DeadlineMs: headers.Get("Lambda-Runtime-Deadline-Ms"),
		MemoryMB:   os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
		GoVersion:  runtime.Version(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		Padding:    strings.Repeat("x", ev.Size),
	}, nil
}

func post(client *http.Client, url string, payload []byte) {
	resp, err := client.Post(url, "application/json", bytes.NewReader(payload))
	if err != nil {
		fmt.Fprintln(os.Stderr, "posting to the Runtime API failed:", err)
		os.Exit(1)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		fmt.Fprintf(os.Stderr, "the Runtime API answered %d to %s\n", resp.StatusCode, url)
	}
}

func main() {
	api := os.Getenv("AWS_LAMBDA_RUNTIME_API")
	if api == "" {
		fmt.Fprintln(os.Stderr, "AWS_LAMBDA_RUNTIME_API is not set: run me under coldlab or AWS Lambda")
		os.Exit(1)
	}
	base := "http://" + api + "/2018-06-01/runtime/invocation/"
	client := &http.Client{} // no timeout: /next is a long poll that may wait for hours
	for {
		resp, err := client.Get(base + "next")
		if err != nil {
			fmt.Fprintln(os.Stderr, "waiting for the next event failed:", err)
			os.Exit(1)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			fmt.Fprintf(os.Stderr, "the Runtime API answered %d to /next\n", resp.StatusCode)
			os.Exit(1)
		}
		requestID := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		result, err := handle(requestID, resp.Header, body)
		if err != nil {
			report, _ := json.Marshal(errorReport{
				ErrorMessage: err.Error(),
				ErrorType:    "errorString",
				StackTrace:   []stackFrame{{Path: "hello-go/main.go", Line: 0, Label: "handle"}},
			})
			post(client, base+requestID+"/error", report)
			continue
		}
		payload, _ := json.Marshal(result)
		post(client, base+requestID+"/response", payload)
	}
}
