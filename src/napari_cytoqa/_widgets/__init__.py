"""Qt widgets: thin shells that translate layers to core calls and results back to layers."""
