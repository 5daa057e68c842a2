"""Judging a return: validation rules and findings, the signature check, `check` itself, batches of files, and the feedback copy."""
