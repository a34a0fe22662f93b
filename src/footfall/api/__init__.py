"""HTTP APIs: thin shapers that translate parameters into query specs and results into each flavour."""
