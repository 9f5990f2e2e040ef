//go:build lambda.norpc

package main

// rpcCompiledIn is false for `-tags lambda.norpc` builds: aws-lambda-go leaves its net/rpc entry point out.
const rpcCompiledIn = false
