"""Analytics semantics, computed once: specs in, typed results out (API modules only shape them)."""
