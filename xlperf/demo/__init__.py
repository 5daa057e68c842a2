"""The demo: a simulated province run end to end on built-in sample data (`xlperf demo`)."""
