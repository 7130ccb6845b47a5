"""The export formats: the YAML file (out and in) and Markdown, over one layout."""
