"""From a prepared question to a cited answer: retrieval, the reader's features,
the answer model, confidence, abstention, urgent-care advice and citations.
The product; it never imports training or evaluation."""
