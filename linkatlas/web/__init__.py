"""What a person looks at: the query form, `/docs` and the broken-backlink report (pages, charts,
redirect maps), all generated from the column tables and answered through the API."""
