// heavy-go: a Go Lambda function that creates AWS SDK v2 clients at start-up, the common pattern that makes
// bootstraps big and slow to start. It speaks the Runtime API itself (standard library HTTP) and answers each
// event with the names of the clients it holds; it never calls AWS.
//
// Built in GOPATH mode against Debian's golang-github-aws-aws-sdk-go-v2-dev sources:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o bootstrap .
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Package-level clients: created once per execution environment, during init.
var (
	cfg        aws.Config
	s3c        *s3.Client
	dynamoc    *dynamodb.Client
	sqsc       *sqs.Client
	initErr    error
	runtimeURL = "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/invocation/"
)

func init() {
	cfg, initErr = config.LoadDefaultConfig(context.Background(), config.WithRegion(region()))
	if initErr != nil {
		return
	}
	s3c = s3.NewFromConfig(cfg)
	dynamoc = dynamodb.NewFromConfig(cfg)
	sqsc = sqs.NewFromConfig(cfg)
}

func region() string {
	if r := os.Getenv("AWS_REGION"); r != "" {
		return r
	}
	return "us-east-1"
}

func handle(event []byte) ([]byte, error) {
	if initErr != nil {
		return nil, initErr
	}
	return json.Marshal(map[string]any{
		"region":      cfg.Region,
		"clients":     []string{fmt.Sprintf("%T", s3c), fmt.Sprintf("%T", dynamoc), fmt.Sprintf("%T", sqsc)},
		"event_bytes": len(event),
	})
}

func main() {
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") == "" {
		fmt.Fprintln(os.Stderr, "heavy-go: AWS_LAMBDA_RUNTIME_API is not set (run me under coldlab invoke)")
		os.Exit(1)
	}
	for {
		resp, err := http.Get(runtimeURL + "next")
		if err != nil {
			fmt.Fprintln(os.Stderr, "heavy-go: /next failed:", err)
			os.Exit(1)
		}
		event, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		out, herr := handle(event)
		target := runtimeURL + id + "/response"
		if herr != nil {
			target = runtimeURL + id + "/error"
			out, _ = json.Marshal(map[string]string{"errorMessage": herr.Error(), "errorType": "InitError"})
		}
		post, err := http.Post(target, "application/json", bytes.NewReader(out))
		if err != nil {
			fmt.Fprintln(os.Stderr, "heavy-go: posting the result failed:", err)
			os.Exit(1)
		}
		post.Body.Close()
	}
}
