"""Where (dataset, retriever) pairs run: in-process (``beirctl.runner``) or on Ray."""
