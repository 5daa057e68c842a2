"""The upload page (`xlperf serve`): units upload returns and see the verdict; the bureau sees the status.

Above `season/` and `province/`; only the CLI imports it.
"""
