from helpers.webseason import app_for, season  # noqa: F401  (fixtures)
