"""Query → hits: the Index over a backend, fusion, the relevance floor, explanations, snippets and read-only views."""
