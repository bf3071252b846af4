"""Reading archives: WARC, ARC and WAT records → visit and link rows, cached as Parquet per archive
chunk (worker processes); `ingest` stores archives in DIR."""
