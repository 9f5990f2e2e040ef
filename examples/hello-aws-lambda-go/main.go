// hello-aws-lambda-go: a Go Lambda function written the way most are, with github.com/aws/aws-lambda-go
// (lambda.Start with a struct in and a struct out), to check coldlab against the real Go runtime client.
//
// Event fields (all optional):
//
//	{"name": "..."}          greet someone (default "world")
//	{"fail": true}           return a *ValidationError: the caller sees errorType "ValidationError"
//	{"panic": true}          panic: aws-lambda-go reports it with stack frames, then the process exits
//	{"sleep_ms": N}          wait N ms, or return ctx.Err() when the context ends first;
//	{"reserve_ms": M}        ... and end M ms before the deadline (as handlers that clean up do)
//	{"size": N}              make the JSON response exactly N bytes (padding added to the reply)
//
// Every reply echoes lambdacontext (request id, ARN, function name, memory, version, log group and stream,
// ctx.Deadline() in Unix ms, client context, Cognito identity) and the ticks a goroutine started in init()
// has counted, which stop while Lambda (or coldlab) freezes the process between invocations.
//
// HELLO_INIT (read in init) makes init fail, to show init errors: "panic" panics in init(), "exit" calls
// os.Exit(1) before lambda.Start. HELLO_INIT_SLEEP_MS=N makes every init take N ms longer.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// coldStart is true until the first invocation of this process has run: package-level state survives
// between invocations because Lambda freezes the process instead of restarting it.
var coldStart = true

// ticks is counted by a goroutine started in init(); it does not move while the process is frozen.
var ticks atomic.Int64

const tickEvery = 10 * time.Millisecond

func init() {
	if ms, err := strconv.Atoi(os.Getenv("HELLO_INIT_SLEEP_MS")); err == nil && ms > 0 {
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
	switch os.Getenv("HELLO_INIT") {
	case "panic":
		panic("HELLO_INIT=panic: failing in init() on purpose")
	case "exit":
		fmt.Fprintln(os.Stderr, "HELLO_INIT=exit: exiting before lambda.Start on purpose")
		os.Exit(1)
	}
	go func() {
		t := time.NewTicker(tickEvery)
		for range t.C {
			ticks.Add(1)
		}
	}()
}

// Event is what the caller sends.
type Event struct {
	Name      string `json:"name"`
	Fail      bool   `json:"fail"`
	Panic     bool   `json:"panic"`
	SleepMs   int    `json:"sleep_ms"`
	ReserveMs int    `json:"reserve_ms"`
	Size      int    `json:"size"`
}

// ValidationError is a custom error type: aws-lambda-go names it in errorType ("ValidationError").
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return fmt.Sprintf("invalid %s: %s", e.Field, e.Reason) }

// ContextEcho is everything lambdacontext and ctx tell the handler.
type ContextEcho struct {
	AwsRequestID       string                        `json:"aws_request_id"`
	InvokedFunctionArn string                        `json:"invoked_function_arn"`
	FunctionName       string                        `json:"function_name"`
	MemoryLimitInMB    int                           `json:"memory_limit_in_mb"`
	FunctionVersion    string                        `json:"function_version"`
	LogGroupName       string                        `json:"log_group_name"`
	LogStreamName      string                        `json:"log_stream_name"`
	DeadlineMs         int64                         `json:"deadline_ms"` // ctx.Deadline() as Unix ms
	ClientContext      lambdacontext.ClientContext   `json:"client_context"`
	Identity           lambdacontext.CognitoIdentity `json:"identity"`
	TraceID            string                        `json:"trace_id"`
}

// Reply is what the handler returns.
type Reply struct {
	Message      string      `json:"message"`
	ColdStart    bool        `json:"cold_start"`
	PID          int         `json:"pid"`
	RPC          bool        `json:"rpc"` // built without -tags lambda.norpc
	GoVersion    string      `json:"go_version"`
	TicksAtStart int64       `json:"ticks_at_start"`
	TicksAtEnd   int64       `json:"ticks_at_end"`
	SleptMs      int         `json:"slept_ms"`
	Context      ContextEcho `json:"context"`
	Padding      string      `json:"padding,omitempty"`
}

func echo(ctx context.Context) ContextEcho {
	out := ContextEcho{
		FunctionName:    lambdacontext.FunctionName,
		MemoryLimitInMB: lambdacontext.MemoryLimitInMB,
		FunctionVersion: lambdacontext.FunctionVersion,
		LogGroupName:    lambdacontext.LogGroupName,
		LogStreamName:   lambdacontext.LogStreamName,
		TraceID:         os.Getenv("_X_AMZN_TRACE_ID"),
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		out.AwsRequestID = lc.AwsRequestID
		out.InvokedFunctionArn = lc.InvokedFunctionArn
		out.ClientContext = lc.ClientContext
		out.Identity = lc.Identity
	}
	if deadline, ok := ctx.Deadline(); ok {
		out.DeadlineMs = deadline.UnixMilli()
	}
	return out
}

// encodedLen is the length aws-lambda-go's encoder gives v (no HTML escaping, no trailing newline).
func encodedLen(v any) int {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return len(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

func handle(ctx context.Context, ev Event) (*Reply, error) {
	wasCold := coldStart
	coldStart = false
	reply := &Reply{ColdStart: wasCold, PID: os.Getpid(), RPC: rpcCompiledIn, GoVersion: runtime.Version()}
	reply.TicksAtStart = ticks.Load()
	reply.Context = echo(ctx)
	fmt.Printf("cold_start=%t request_id=%s\n", wasCold, reply.Context.AwsRequestID)

	if ev.Panic {
		panic(fmt.Sprintf("panicking on purpose for %q", ev.Name))
	}
	if ev.Fail {
		return nil, &ValidationError{Field: "name", Reason: fmt.Sprintf("%q was refused on purpose", ev.Name)}
	}
	if ev.SleepMs > 0 {
		wait := ctx
		if deadline, ok := ctx.Deadline(); ok && ev.ReserveMs > 0 {
			var cancel context.CancelFunc
			wait, cancel = context.WithDeadline(ctx, deadline.Add(-time.Duration(ev.ReserveMs)*time.Millisecond))
			defer cancel()
		}
		begun := time.Now()
		select {
		case <-time.After(time.Duration(ev.SleepMs) * time.Millisecond):
			reply.SleptMs = int(time.Since(begun).Milliseconds())
		case <-wait.Done():
			return nil, wait.Err() // errorType "deadlineExceededError": the handler gave up in time
		}
	}
	name := ev.Name
	if name == "" {
		name = "world"
	}
	reply.Message = "hello, " + name
	reply.TicksAtEnd = ticks.Load()
	if ev.Size > 0 {
		// ,"padding":"" is 13 bytes more than the reply without it; every padding byte adds one.
		pad := ev.Size - encodedLen(reply) - len(`,"padding":""`)
		if pad < 0 {
			return nil, &ValidationError{Field: "size", Reason: fmt.Sprintf("%d is below the reply's own size", ev.Size)}
		}
		reply.Padding = strings.Repeat("x", pad)
	}
	return reply, nil
}

func main() {
	lambda.Start(handle)
}
