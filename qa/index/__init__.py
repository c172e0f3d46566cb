"""The searchable index: embeddings, the FAISS and unit vectors on disk, and
atomic builds."""
