"""Province-wide aggregation: the summary model, the tables that fill it, and the workbook, CSV, Parquet and pandas views of it."""
