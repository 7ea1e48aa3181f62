"""The Spaces control plane: one FastAPI app (uvicorn locally, AWS Lambda through Mangum)."""
