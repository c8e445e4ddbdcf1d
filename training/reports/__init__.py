"""Pages the commands write next to their results: markdown tables and their plots."""
