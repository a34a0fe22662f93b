"""Bulk exports: which events an export holds, in which shape, streamed as they are produced."""
