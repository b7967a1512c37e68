"""Text encoders shared by several stages (sentence embeddings for ranking and disambiguation)."""
