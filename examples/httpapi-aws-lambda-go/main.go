// httpapi-aws-lambda-go: an API Gateway HTTP API (payload format 2.0) / Lambda function URL handler written
// with github.com/aws/aws-lambda-go/events, for `coldlab serve` and its tests.
//
// It echoes the request back as JSON: method, path, query, headers, cookies and the body (decoded when the
// event says isBase64Encoded). The request picks the answer:
//
//	?status=NNN or header x-status: NNN   the response status code (default 200)
//	?binary=1                             answer with the request body's raw bytes, base64-encoded
//	path /error                           return an error (API Gateway answers 500 Internal Server Error)
//
// Every response sets the cookie served-by=httpapi-aws-lambda-go and the header x-request-path.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Echo is the JSON body of a normal answer.
type Echo struct {
	Method          string            `json:"method"`
	Path            string            `json:"path"`
	RouteKey        string            `json:"route_key"`
	RawQuery        string            `json:"raw_query"`
	Query           map[string]string `json:"query"`
	PathParameters  map[string]string `json:"path_parameters"`
	Headers         map[string]string `json:"headers"`
	Cookies         []string          `json:"cookies"`
	Body            string            `json:"body"`        // the body as text (empty when it is not UTF-8)
	BodyBase64      string            `json:"body_base64"` // the body's bytes, always
	BodyBytes       int               `json:"body_bytes"`
	IsBase64Encoded bool              `json:"is_base64_encoded"` // as the event said
	SourceIP        string            `json:"source_ip"`
	Stage           string            `json:"stage"`
	RequestID       string            `json:"request_id"`        // requestContext.requestId
	LambdaRequestID string            `json:"lambda_request_id"` // the invocation's id
}

// RouteError is returned for /error; its type name becomes the errorType.
type RouteError struct{ Path string }

func (e *RouteError) Error() string { return "failing on purpose for " + e.Path }

func status(req events.APIGatewayV2HTTPRequest) (int, error) {
	text := req.QueryStringParameters["status"]
	if text == "" {
		text = req.Headers["x-status"]
	}
	if text == "" {
		return 200, nil
	}
	code, err := strconv.Atoi(text)
	if err != nil || code < 100 || code > 599 {
		return 0, fmt.Errorf("status %q is not an HTTP status code (use 100-599)", text)
	}
	return code, nil
}

func body(req events.APIGatewayV2HTTPRequest) ([]byte, error) {
	if !req.IsBase64Encoded {
		return []byte(req.Body), nil
	}
	return base64.StdEncoding.DecodeString(req.Body)
}

func jsonResponse(code int, v any, path string) events.APIGatewayV2HTTPResponse {
	text, _ := json.Marshal(v)
	return events.APIGatewayV2HTTPResponse{
		StatusCode: code,
		Headers:    map[string]string{"content-type": "application/json", "x-request-path": path},
		Body:       string(text),
		Cookies:    []string{"served-by=httpapi-aws-lambda-go; Path=/"},
	}
}

func handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	if req.RawPath == "/error" {
		return events.APIGatewayV2HTTPResponse{}, &RouteError{Path: req.RawPath}
	}
	code, err := status(req)
	if err != nil {
		return jsonResponse(400, map[string]string{"error": err.Error()}, req.RawPath), nil
	}
	raw, err := body(req)
	if err != nil {
		return jsonResponse(400, map[string]string{"error": "body is not valid base64: " + err.Error()}, req.RawPath), nil
	}
	if req.QueryStringParameters["binary"] == "1" {
		kind := req.Headers["content-type"]
		if kind == "" {
			kind = "application/octet-stream"
		}
		return events.APIGatewayV2HTTPResponse{
			StatusCode:      code,
			Headers:         map[string]string{"content-type": kind, "x-request-path": req.RawPath},
			Body:            base64.StdEncoding.EncodeToString(raw),
			IsBase64Encoded: true,
			Cookies:         []string{"served-by=httpapi-aws-lambda-go; Path=/"},
		}, nil
	}
	echo := Echo{
		Method:          req.RequestContext.HTTP.Method,
		Path:            req.RawPath,
		RouteKey:        req.RouteKey,
		RawQuery:        req.RawQueryString,
		Query:           req.QueryStringParameters,
		PathParameters:  req.PathParameters,
		Headers:         req.Headers,
		Cookies:         req.Cookies,
		BodyBase64:      base64.StdEncoding.EncodeToString(raw),
		BodyBytes:       len(raw),
		IsBase64Encoded: req.IsBase64Encoded,
		SourceIP:        req.RequestContext.HTTP.SourceIP,
		Stage:           req.RequestContext.Stage,
		RequestID:       req.RequestContext.RequestID,
	}
	if utf8.Valid(raw) {
		echo.Body = string(raw)
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		echo.LambdaRequestID = lc.AwsRequestID
	}
	return jsonResponse(code, echo, req.RawPath), nil
}

func main() {
	lambda.Start(handle)
}
