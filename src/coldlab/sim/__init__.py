"""Trace-driven simulation of cold starts, environments and cost on AWS Lambda and Google Cloud Run."""
