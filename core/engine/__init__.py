"""Compute: the batched engine and its loop, histories, the memory guard, results, the executors (local, Ray) and the result cache."""
