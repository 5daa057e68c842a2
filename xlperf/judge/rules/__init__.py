"""The official rules, one module per part of the form; `judge.validate` runs them in order."""
