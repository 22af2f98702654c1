"""Command side: command messages, their handlers and the HTTP command routes."""
