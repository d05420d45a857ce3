"""The lab's OpenAI-compatible server (`python -m lab serve`, the Serve panel): its models, routes and CLI."""
