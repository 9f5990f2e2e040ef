//go:build !lambda.norpc

package main

// rpcCompiledIn says whether aws-lambda-go's go1.x RPC mode (net/rpc) is linked into this build.
const rpcCompiledIn = true
