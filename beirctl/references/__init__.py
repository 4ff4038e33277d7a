"""Published reference scores, shipped as package data (each TSV names its source)."""
